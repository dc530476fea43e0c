package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// cliArgsEnv makes the test binary act as the natsfn binary (root main.go:
// print the error, exit 1), so tests can check what a real process does.
const cliArgsEnv = "NATSFN_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if raw := os.Getenv(cliArgsEnv); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := New().Run(context.Background(), append([]string{"natsfn"}, args...)); err != nil {
			fmt.Fprintln(os.Stderr, "natsfn:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
