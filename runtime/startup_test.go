package natsfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// eventService uses every kind of start-up step: a stream, a bucket, a
// trigger (consumer, dead letters, advisories).
func eventService() natsfn.Service {
	echo := func(_ context.Context, in helloIn) (helloOut, error) { return helloOut{Greeting: in.Name}, nil }
	return natsfn.Service{
		Name: "startup", Version: "1.0.0",
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "echo", On: []string{"startup.said.v1"}}, echo)},
		Streams:   []natsfn.Stream{{Name: "STARTUP", Subjects: []string{"startup.said.>"}}},
		Buckets:   []natsfn.Bucket{{Name: "startup_state"}},
	}
}

// runUntilStopped runs rt and returns what Run returned, failing the test if
// it neither stops nor starts in time.
func runUntilStopped(t *testing.T, rt *natsfn.Runtime, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-rt.Started():
		cancel()
		<-done
		t.Fatal("started although the configuration cannot work")
	case <-time.After(within):
		cancel()
		<-done
		t.Fatalf("still waiting after %s for something no wait can cure", within)
	}
	return nil
}

// A misconfiguration that no waiting cures ends the start at once, with the
// step and what to change, instead of a retry loop that never ends.
func TestStartupStopsForGoodWhenWaitingCannotHelp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, js jetstream.JetStream)
		events  natsfn.EventsConfig
		noJS    bool
		want    []string
	}{
		{
			name: "a stream exists with another storage type",
			prepare: func(t *testing.T, js jetstream.JetStream) {
				_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "STARTUP", Subjects: []string{"startup.said.>"}, Storage: jetstream.MemoryStorage})
				if err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"stream STARTUP", "storage", "nats stream"},
		},
		{
			name: "another stream captures the subjects",
			prepare: func(t *testing.T, js jetstream.JetStream) {
				_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "SQUATTER", Subjects: []string{"startup.>"}})
				if err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"stream STARTUP", "subjects overlap", "another stream already captures"},
		},
		{
			name:   "three replicas on a server that is not clustered",
			events: natsfn.EventsConfig{Replicas: 3},
			want:   []string{"stream STARTUP", "not clustered", "--replicas 1"},
		},
		{
			name: "JetStream is off",
			noJS: true,
			want: []string{"stream STARTUP", "JetStream is not enabled", "-js"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), NoJetStream: tc.noJS})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
			if tc.prepare != nil {
				js, _ := jetstream.New(testkit.Connect(t, srv.ClientURL()))
				tc.prepare(t, js)
			}
			rt, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: discardLogger(), Events: tc.events}, eventService())
			if err != nil {
				t.Fatal(err)
			}
			err = runUntilStopped(t, rt, 20*time.Second)
			t.Log(err)
			if !errors.Is(err, natsfn.ErrStartup) {
				t.Fatalf("Run = %v; want an error wrapping ErrStartup", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A NATS user without the JetStream rights the service needs is told so:
// the server denies the request asynchronously and the request itself just
// times out, so the runtime matches the two.
func TestStartupStopsForGoodWhenPermissionIsDenied(t *testing.T) {
	srv := startServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{{Username: "fn", Password: "pw", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{"$SRV.>", "_INBOX.>", "startup.>", "$JS.API.INFO"}},
		}}}})
	rt, err := natsfn.New(natsfn.Config{URL: "nats://fn:pw@" + strings.TrimPrefix(srv.ClientURL(), "nats://"), Logger: discardLogger()}, eventService())
	if err != nil {
		t.Fatal(err)
	}
	err = runUntilStopped(t, rt, 30*time.Second)
	if !errors.Is(err, natsfn.ErrStartup) || !strings.Contains(err.Error(), "permission") || !strings.Contains(err.Error(), "natsfn nats-config") {
		t.Fatalf("Run = %v; want ErrStartup naming the missing permission and natsfn nats-config", err)
	}
	if !strings.Contains(err.Error(), "$JS.API.STREAM") {
		t.Errorf("error %q does not name the denied subject", err)
	}
}

func TestStartupStopsForGoodOnWrongCredentials(t *testing.T) {
	srv := startServer(t, &server.Options{Username: "fn", Password: "right"})
	var calls atomic.Int64
	rt, err := natsfn.New(natsfn.Config{URL: "nats://fn:wrong@" + strings.TrimPrefix(srv.ClientURL(), "nats://"), Logger: discardLogger()}, greeter(&calls))
	if err != nil {
		t.Fatal(err)
	}
	err = runUntilStopped(t, rt, 20*time.Second)
	if !errors.Is(err, natsfn.ErrStartup) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Run = %v; want ErrStartup about the credentials", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error %q shows the password", err)
	}
}

// A runtime started before NATS waits for it: the process is alive and says
// what it waits for, the log has a line per attempt with its number, and it
// serves once NATS comes.
func TestReadyzNamesTheStepItWaitsFor(t *testing.T) {
	port := testkit.FreePort(t)
	adminAddr := "127.0.0.1:" + itoa(testkit.FreePort(t))
	logs := &testkit.Buffer{}
	l := zerolog.New(logs)
	rt, err := natsfn.New(natsfn.Config{
		URL: "nats://127.0.0.1:" + itoa(port), AdminAddr: adminAddr, Logger: &l,
		ConnectBackoffMin: 10 * time.Millisecond, ConnectBackoffMax: 100 * time.Millisecond,
	}, eventService())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var body struct {
		WaitingFor struct {
			Step      string `json:"step"`
			Attempt   int    `json:"attempt"`
			LastError string `json:"last_error"`
		} `json:"waiting_for"`
	}
	eventually(t, 10*time.Second, "/readyz names the connect step", func() bool {
		code, raw := tryGet("http://" + adminAddr + "/readyz")
		if code != 503 || json.Unmarshal([]byte(raw), &body) != nil {
			return false
		}
		return strings.HasPrefix(body.WaitingFor.Step, "connect to NATS at nats://127.0.0.1:"+itoa(port)) &&
			body.WaitingFor.Attempt >= 2 && strings.Contains(body.WaitingFor.LastError, "no servers available")
	})
	if code, _ := get(t, "http://"+adminAddr+"/healthz"); code != 200 {
		t.Fatalf("/healthz while waiting = %d; the process is alive", code)
	}
	attempts := map[float64]bool{}
	for _, line := range logs.JSONLines() {
		if line["step"] == body.WaitingFor.Step && line["level"] == "warn" {
			n, _ := line["attempt"].(float64)
			if attempts[n] {
				t.Fatalf("attempt %v logged twice", n)
			}
			attempts[n] = true
		}
	}
	if len(attempts) < 2 || !attempts[1] {
		t.Fatalf("attempts logged: %v; want one line per attempt from 1", attempts)
	}
	if rt.Ready() || metricValue(t, rt, "natsfn_nats_connect_attempts_total") < 2 {
		t.Fatal("ready without NATS, or the connect attempts are not counted")
	}

	srv, err := embedded.Start(embedded.Config{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	select {
	case <-rt.Started():
	case err := <-done:
		t.Fatalf("stopped instead of starting: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not started 30s after NATS came")
	}
	if code, _ := get(t, "http://"+adminAddr+"/readyz"); code != 200 {
		t.Fatalf("/readyz once started = %d", code)
	}
}

// startServer runs a server with opts (auth, say) on a random loopback
// port until the test ends.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// tryGet is get for polling: a refused connection is an answer too.
func tryGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
