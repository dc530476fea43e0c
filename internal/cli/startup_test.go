package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/embedded"
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

// A gateway started before NATS answers its probes while it waits: alive,
// not ready, and ready once NATS is there.
func TestGatewayIsAliveWhileItWaitsForNATS(t *testing.T) {
	natsPort, httpPort := testkit.FreePort(t), testkit.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var out testkit.Buffer
		done <- run(ctx, &out, "gateway", "--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", natsPort),
			"--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--log-level", "error")
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway stopped with %v", err)
		}
	}()
	status := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testkit.Eventually(t, 10*time.Second, "/healthz answers while NATS is down", func() bool {
		code, _ := status("/healthz")
		return code == 200
	})
	if code, body := status("/readyz"); code != 503 || !strings.Contains(body, "connecting to NATS") {
		t.Fatalf("/readyz before NATS: %d %s", code, body)
	}
	if code, body := status("/products"); code != 503 {
		t.Fatalf("a route before NATS: %d %s", code, body)
	}
	srv, err := embedded.Start(embedded.Config{Port: natsPort, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	testkit.Eventually(t, 30*time.Second, "/readyz once NATS is up", func() bool {
		code, _ := status("/readyz")
		return code == 200
	})
}
