package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
)

// run executes the natsfn command line with args and returns its output.
func run(ctx context.Context, out *testkit.Buffer, args ...string) error {
	cmd := New()
	cmd.Writer = out
	cmd.ErrWriter = out
	return cmd.Run(ctx, append([]string{"natsfn"}, args...))
}

func TestVersion(t *testing.T) {
	var out testkit.Buffer
	if err := run(context.Background(), &out, "version"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "natsfn dev (go") || !strings.HasSuffix(out.String(), ")\n") {
		t.Fatalf("version output: %q", out.String())
	}
}

func TestHelpNamesEnvVars(t *testing.T) {
	var out testkit.Buffer
	if err := run(context.Background(), &out, "run", "--help"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"$NATS_URL", "$NATSFN_CONCURRENCY", "$NATSFN_ADMIN_ADDR", "SIGTERM"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help does not mention %s", want)
		}
	}
}

func TestRunExplainsBadServiceNames(t *testing.T) {
	var out testkit.Buffer
	err := run(context.Background(), &out, "run")
	if err == nil || !strings.Contains(err.Error(), "name at least one service") {
		t.Fatalf("no service: %v", err)
	}
	err = run(context.Background(), &out, "run", "no-such-service")
	if err == nil || !strings.Contains(err.Error(), `unknown service "no-such-service"`) || !strings.Contains(err.Error(), "available") {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestBadFlagsSayWhatToDo(t *testing.T) {
	var out testkit.Buffer
	err := run(context.Background(), &out, "local", "--nats", "nonsense", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "want host:port") {
		t.Fatalf("bad --nats: %v", err)
	}
	err = run(context.Background(), &out, "local", "--log-level", "loud", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "use debug, info, warn or error") {
		t.Fatalf("bad --log-level: %v", err)
	}
}

func TestLocalStartsAndStopsCleanly(t *testing.T) {
	var out testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, &out, "local", "--nats", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
			"--data", t.TempDir(), "--log-format", "json")
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "natsfn local is up") {
		select {
		case err := <-done:
			t.Fatalf("local stopped: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("local did not start:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "nats micro ls --server nats://127.0.0.1:") {
		t.Errorf("banner lacks the nats CLI hint:\n%s", out.String())
	}
	cancel() // as Ctrl-C does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("local did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("local did not stop")
	}
}

func nopLogger() *zerolog.Logger {
	l := zerolog.Nop()
	return &l
}
