package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/testkit"
)

// TestLoadCommand drives `natsfn local` with `natsfn load`, over HTTP and
// over NATS, and reads the JSON summary.
func TestLoadCommand(t *testing.T) {
	addr, stop := startLocal(t, t.TempDir(), "--stock", "1000")
	defer stop()
	var out testkit.Buffer
	if err := run(context.Background(), &out, "load", "--url", "http://"+addr, "--orders", "60", "--concurrency", "4",
		"--check-stock", "--json"); err != nil {
		t.Fatalf("load: %v\n%s", err, out.String())
	}
	var sum struct {
		Accepted, Completed, Unsettled int
		Stock                          string `json:"stock_check"`
		Outcomes                       map[string]int
		AcceptLatency                  struct {
			P99 int64 `json:"p99_ns"`
		} `json:"accept_latency"`
	}
	if err := json.Unmarshal([]byte(out.String()), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if sum.Accepted != 60 || sum.Completed != 60 || sum.Unsettled != 0 || sum.Stock != "ok" || sum.AcceptLatency.P99 <= 0 {
		t.Fatalf("summary %+v", sum)
	}

	out = testkit.Buffer{}
	err := run(context.Background(), &out, "load", "--url", "http://"+addr, "--orders", "0")
	if err == nil || !strings.Contains(err.Error(), "--orders N or --duration D") {
		t.Fatalf("no amount: %v", err)
	}
	err = run(context.Background(), &out, "load", "--url", "http://127.0.0.1:1", "--orders", "5")
	if err == nil || !strings.Contains(err.Error(), "is the system up?") {
		t.Fatalf("nothing listening: %v", err)
	}
}
