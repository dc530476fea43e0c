package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/embedded"
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

// TestBadCommandLinesSayWhatToDo: a command line that cannot work fails,
// and its error says what to do instead.
func TestBadCommandLinesSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"no service", []string{"run"}, []string{"name at least one service"}},
		{"unknown service", []string{"run", "no-such-service"}, []string{`unknown service "no-such-service"`, "available"}},
		{"bad --nats", []string{"local", "--nats", "nonsense", "--data", t.TempDir()}, []string{"want host:port"}},
		{"bad --log-level", []string{"local", "--log-level", "loud", "--data", t.TempDir()}, []string{"use debug, info, warn or error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out testkit.Buffer
			err := run(context.Background(), &out, tc.args...)
			if err == nil {
				t.Fatalf("%v succeeded", tc.args)
			}
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("%v: %v; want it to say %q", tc.args, err, want)
				}
			}
		})
	}
}

// startLocal runs `natsfn local` on free ports and returns its HTTP address
// and a stop function that waits for a clean exit.
func startLocal(t *testing.T, dir string, extra ...string) (string, func()) {
	t.Helper()
	var out testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"local", "--nats", "127.0.0.1:0", "--http", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--data", dir, "--log-format", "json", "--log-level", "warn"}, extra...)
	go func() { done <- run(ctx, &out, args...) }()
	addr := regexp.MustCompile(`HTTP API: http://(\S+)`)
	testkit.Eventually(t, 15*time.Second, "natsfn local is up", func() bool {
		select {
		case err := <-done:
			t.Fatalf("local stopped: %v\n%s", err, out.String())
		default:
		}
		return addr.MatchString(out.String())
	})
	for _, want := range []string{"nats micro ls --server nats://127.0.0.1:", "curl -s -XPOST http://", "seeded"} {
		if !strings.Contains(out.String(), want) && !(want == "seeded" && strings.Contains(out.String(), "kept")) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	stop := func() {
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
	return addr.FindStringSubmatch(out.String())[1], stop
}

// TestLocalRunsTheSagaAndKeepsStateAcrossRestarts is the quick start: an
// order placed on `natsfn local` is confirmed, and after a restart the
// order and the stock are still there.
func TestLocalRunsTheSagaAndKeepsStateAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startLocal(t, dir, "--stock", "7")
	resp, err := http.Post("http://"+addr+"/orders", "application/json",
		strings.NewReader(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var acc struct {
		OrderID string `json:"order_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || acc.OrderID == "" {
		t.Fatalf("POST /orders: %d", resp.StatusCode)
	}
	status := func(addr string) string {
		r, err := http.Get("http://" + addr + "/orders/" + acc.OrderID)
		if err != nil {
			return err.Error()
		}
		defer r.Body.Close()
		var o struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(r.Body).Decode(&o)
		return o.Status
	}
	testkit.Eventually(t, 15*time.Second, "the order is confirmed", func() bool { return status(addr) == "confirmed" })
	stop()

	addr, stop = startLocal(t, dir, "--stock", "7")
	defer stop()
	if got := status(addr); got != "confirmed" {
		t.Fatalf("after a restart the order is %q", got)
	}
	r, err := http.Get("http://" + addr + "/products/sku-1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var p struct {
		Available int `json:"available"`
	}
	_ = json.NewDecoder(r.Body).Decode(&p)
	if p.Available != 5 {
		t.Fatalf("after a restart sku-1 has %d available, want 7-2 = 5 (stock kept, not re-seeded)", p.Available)
	}
}

func nopLogger() *zerolog.Logger {
	l := zerolog.Nop()
	return &l
}

// A data directory written by a natsfn that kept orders in a key-value
// bucket is refused with what to do, not half-used.
func TestLocalRefusesAnOldDataDirectory(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc := testkit.Connect(t, srv.ClientURL())
	js, _ := jetstream.New(nc)
	if _, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "orders", Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	var out testkit.Buffer
	err = run(context.Background(), &out, "local", "--data", dir, "--nats", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		"--http", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "error")
	if err == nil || !strings.Contains(err.Error(), "earlier natsfn") || !strings.Contains(err.Error(), "rm -rf "+dir) {
		t.Fatalf("local on an old data directory: %v", err)
	}
}
