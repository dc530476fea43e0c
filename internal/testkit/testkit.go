// Package testkit holds what the test suites of every package share: a real
// embedded NATS server per test, a log sink, and polling with a deadline.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// StartNATS runs a real embedded server with JetStream on a random port and
// a temporary store, shut down when the test ends.
func StartNATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// Connect opens a client connection that reconnects quickly, closed when the
// test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Eventually polls cond until it holds, failing the test after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("not true within %s: %s", within, what)
	}
}

// Poll checks cond every 10ms until it holds (true) or within has passed
// (false), for callers that explain a failure themselves.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Buffer collects output written from many goroutines, such as log lines.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JSONLines returns the lines written so far that parse as JSON objects.
func (b *Buffer) JSONLines() []map[string]any {
	var out []map[string]any
	for _, l := range bytes.Split([]byte(b.String()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Serve runs rt until the test ends and returns once every function is
// registered; the runtime must stop cleanly at the end.
func Serve(t testing.TB, rt *natsfn.Runtime) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runtime stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("runtime did not stop in 30s")
		}
	})
	select {
	case <-rt.Started():
	case err := <-done:
		t.Fatalf("runtime stopped before serving: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("runtime did not start in 15s")
	}
}

// PublishEvent publishes a CloudEvent as an upstream producer would.
func PublishEvent(t testing.TB, js jetstream.JetStream, subject, id string, payload any, extra ...string) {
	t.Helper()
	msg, err := client.NewEvent(subject, id, "test", payload)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		msg.Header.Set(extra[i], extra[i+1])
	}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// Must returns v, or panics with err: for building a test's fixtures from
// literal configurations, which only a bug in the test can make invalid.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
