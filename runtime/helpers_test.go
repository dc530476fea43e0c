package natsfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
)

func startNATS(t testing.TB) *server.Server { return testkit.StartNATS(t) }

func connectClient(t testing.TB, srv *server.Server) *nats.Conn {
	return testkit.Connect(t, srv.ClientURL())
}

func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, within, what, cond)
}

type running struct {
	rt   *natsfn.Runtime
	logs *testkit.Buffer
	stop context.CancelFunc
	done chan error
}

// startRuntime runs a runtime until the test ends and waits until it serves.
func startRuntime(t testing.TB, url string, cfg natsfn.Config, services ...natsfn.Service) *running {
	t.Helper()
	logs := &testkit.Buffer{}
	if cfg.Logger == nil {
		l := zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		cfg.Logger = &l
	}
	cfg.URL = url
	if cfg.ReconnectWait == 0 {
		cfg.ReconnectWait = 20 * time.Millisecond
	}
	rt, err := natsfn.New(cfg, services...)
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
			for _, l := range logs.JSONLines() {
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

// totals adds up the stats of one function's endpoints (one per instance).
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

func asError(t testing.TB, err error) *natsfn.Error {
	t.Helper()
	var e *natsfn.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *natsfn.Error, got %T: %v", err, err)
	}
	return e
}

func discardLogger() *zerolog.Logger {
	l := zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return &l
}

func itoa(i int) string { return strconv.Itoa(i) }

func runtimeProcs() int { return goruntime.GOMAXPROCS(0) }

// statsSettle waits until micro's stats for a function show requests and
// errors: micro counts a call after its handler returns, which is after the
// reply has left, so a caller can see the reply before the count.
func statsSettle(t testing.TB, nc *nats.Conn, service, function string, requests, errs int) time.Duration {
	t.Helper()
	var req, er int
	var proc time.Duration
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, er, proc = totals(serviceStats(t, nc, service), function)
		if req == requests && er == errs {
			return proc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s stats: requests=%d errors=%d; want %d, %d", service, function, req, er, requests, errs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventStatsData is what `nats micro stats` shows of a function's events,
// in lane 1's data.
type eventStatsData struct {
	Invocations    int           `json:"num_invocations"`
	Errors         int           `json:"num_errors"`
	ProcessingTime time.Duration `json:"processing_time"`
}

func eventStats(t testing.TB, nc *nats.Conn, service, function string) eventStatsData {
	t.Helper()
	for _, e := range serviceStats(t, nc, service).Endpoints {
		if e.Name != function {
			continue
		}
		var d struct {
			Events eventStatsData `json:"events"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.Events.Invocations > 0 {
			return d.Events
		}
	}
	return eventStatsData{}
}
