package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// startNATS runs a real embedded server with JetStream on a random port.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

func connectClient(t testing.TB, srv *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

type running struct {
	rt   *runtime.Runtime
	logs *syncBuffer
	stop context.CancelFunc
	done chan error
}

// startRuntime runs a runtime until the test ends and waits until it serves.
func startRuntime(t testing.TB, url string, cfg runtime.Config, services ...runtime.Service) *running {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		l := zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		cfg.Logger = &l
	}
	cfg.URL = url
	if cfg.ReconnectWait == 0 {
		cfg.ReconnectWait = 20 * time.Millisecond
	}
	rt, err := runtime.New(cfg, services...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{rt: rt, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- rt.Run(ctx) }()
	select {
	case <-rt.Started():
	case err := <-r.done:
		t.Fatalf("runtime stopped before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("runtime did not start in 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("runtime did not stop in 30s")
		}
		if testing.Verbose() {
			for _, l := range logs.lines() {
				t.Log(l)
			}
		}
	})
	return r
}

// shutdown stops the runtime and returns what Run returned.
func (r *running) shutdown(t testing.TB) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // keep it for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("runtime did not stop in 30s")
		return nil
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not true within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serviceStats asks every instance of a service for its stats.
func serviceStats(t testing.TB, nc *nats.Conn, name string) micro.Stats {
	t.Helper()
	subj, err := micro.ControlSubject(micro.StatsVerb, name, "")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := nc.Request(subj, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var s micro.Stats
	if err := json.Unmarshal(msg.Data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// totals adds up the stats of one function's endpoints (one per slot).
func totals(s micro.Stats, function string) (requests, errs int, processing time.Duration) {
	for _, e := range s.Endpoints {
		if e.Name == function {
			requests += e.NumRequests
			errs += e.NumErrors
			processing += e.ProcessingTime
		}
	}
	return
}

func asError(t testing.TB, err error) *runtime.Error {
	t.Helper()
	var e *runtime.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *runtime.Error, got %T: %v", err, err)
	}
	return e
}

func discardLogger() *zerolog.Logger {
	l := zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return &l
}

func itoa(i int) string { return strconv.Itoa(i) }

func runtimeProcs() int { return goruntime.GOMAXPROCS(0) }
