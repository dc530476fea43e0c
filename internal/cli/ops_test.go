package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/testkit"
)

// TestSeedAddsOnlyWhatIsMissing: a first seed fills the catalog, a second
// one keeps the stock (a restart of a cluster must not reset it), and a
// dead NATS says what to check.
func TestSeedAddsOnlyWhatIsMissing(t *testing.T) {
	srv := testkit.StartNATS(t)
	var out testkit.Buffer
	if err := run(context.Background(), &out, "seed", "--nats-url", srv.ClientURL(), "--stock", "7"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "added 5 products (0 already there)") {
		t.Fatalf("first seed: %q", out.String())
	}
	out = testkit.Buffer{}
	if err := run(context.Background(), &out, "seed", "--nats-url", srv.ClientURL(), "--stock", "99"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "added 0 products (5 already there)") {
		t.Fatalf("second seed: %q", out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	if err := run(ctx, &out, "seed", "--nats-url", "nats://127.0.0.1:1"); err == nil {
		t.Fatal("seed without NATS succeeded")
	}
}

func TestHealthFollowsTheStatus(t *testing.T) {
	status := http.StatusOK
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer hs.Close()
	var out testkit.Buffer
	if err := run(context.Background(), &out, "health", hs.URL); err != nil {
		t.Fatalf("200: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := run(context.Background(), &out, "health", hs.URL); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503: %v", err)
	}
	if err := run(context.Background(), &out, "health", "http://127.0.0.1:1/readyz"); err == nil {
		t.Fatal("nothing listening, yet healthy")
	}
}
