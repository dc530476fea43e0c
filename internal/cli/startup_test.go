package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/testkit"
)

// A replica whose stream exists with a configuration it cannot update to
// exits non-zero with what to change, rather than waiting for ever (which
// Kubernetes would show as a pod that is never ready, with no reason).
func TestRunExitsNonZeroOnAPermanentMisconfiguration(t *testing.T) {
	srv := testkit.StartNATS(t)
	js, _ := jetstream.New(testkit.Connect(t, srv.ClientURL()))
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "ORDERS", Subjects: []string{"orders.created.>"}, Storage: jetstream.MemoryStorage,
	}); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"run", "orders", "--nats-url", srv.ClientURL(), "--admin-addr", "", "--log-level", "error"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliArgsEnv+"="+string(args))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("natsfn run = %v (want exit status 1); output:\n%s", err, out)
	}
	for _, want := range []string{"natsfn: cannot start: stream ORDERS", "storage type", "nats stream rm"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}
