//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/natsfn/natsfn/internal/cli"
	"github.com/natsfn/natsfn/internal/testkit"
)

// TestMain turns the test binary into any part of the system: a NATS node,
// or the natsfn command line (`run <service>`, `gateway`) when started with
// NATSFN_CHAOS_ARGS, so every process of the chaos run is the real program.
func TestMain(m *testing.M) {
	testkit.RunNodeIfAsked()
	if raw := os.Getenv("NATSFN_CHAOS_ARGS"); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := cli.New().Run(ctx, append([]string{"natsfn"}, args...)); err != nil {
			fmt.Fprintln(os.Stderr, "natsfn:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
