package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// replica is one runtime serving every saga service with R3 streams and
// buckets, as a replica of a deployment on a 3-node cluster would.
type replica struct {
	rt    *natsfn.Runtime
	admin string
	logs  *testkit.Buffer
	done  chan error
}

func startReplica(t *testing.T, url string) *replica {
	t.Helper()
	all := testkit.Must(functions.All(functions.Config{Sim: testkit.Must(paysim.New(paysim.Config{}))}))
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	logs := &testkit.Buffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	r := &replica{admin: fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)), logs: logs, done: make(chan error, 1)}
	rt, err := natsfn.New(natsfn.Config{
		URL: url, Logger: &log, AdminAddr: strings.TrimPrefix(r.admin, "http://"),
		ConnectBackoffMin: 50 * time.Millisecond, ConnectBackoffMax: time.Second, ReconnectWait: 100 * time.Millisecond,
		Events: natsfn.EventsConfig{Replicas: 3},
	}, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	r.rt = rt
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(40 * time.Second):
			t.Error("replica did not stop in 40s")
		}
	})
	return r
}

type readyz struct {
	Status     string   `json:"status"`
	Reasons    []string `json:"reasons"`
	WaitingFor *struct {
		Step      string `json:"step"`
		Attempt   int    `json:"attempt"`
		LastError string `json:"last_error"`
	} `json:"waiting_for"`
}

// probe answers /healthz and /readyz as a kubelet would see them.
func (r *replica) probe() (health, ready int, body readyz, err error) {
	resp, err := http.Get(r.admin + "/healthz")
	if err != nil {
		return 0, 0, body, err
	}
	resp.Body.Close()
	health = resp.StatusCode
	resp, err = http.Get(r.admin + "/readyz")
	if err != nil {
		return health, 0, body, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return health, resp.StatusCode, body, fmt.Errorf("/readyz body %q: %w", raw, err)
	}
	return health, resp.StatusCode, body, nil
}

// waitingFor polls until the replica is alive, not ready, and names a step
// it waits for whose last error contains wantErr; it returns that step.
func (r *replica) waitingFor(t *testing.T, stepPart string) string {
	t.Helper()
	var last string
	var step string
	ok := testkit.Poll(60*time.Second, func() bool {
		health, ready, body, err := r.probe()
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("healthz %d, readyz %d %v", health, ready, body.Reasons)
		if w := body.WaitingFor; w != nil {
			last += fmt.Sprintf(" waiting_for={step:%q attempt:%d last_error:%q}", w.Step, w.Attempt, w.LastError)
		}
		if health != 200 || ready != 503 || body.WaitingFor == nil {
			return false
		}
		step = body.WaitingFor.Step
		return strings.Contains(step, stepPart) && body.WaitingFor.Attempt >= 1 && body.WaitingFor.LastError != ""
	})
	t.Logf("waiting: %s", last)
	if !ok {
		t.Fatalf("replica does not say it waits for %q; last probe: %s", stepPart, last)
	}
	select {
	case err := <-r.done:
		t.Fatalf("replica gave up while waiting: %v", err)
	default:
	}
	return step
}

func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	start := time.Now()
	defer func() {
		t.Logf("ready %s later", time.Since(start).Round(100*time.Millisecond))
		if t.Failed() {
			for _, l := range r.logs.JSONLines() {
				if l["step"] != nil {
					t.Log(l["step"], l["attempt"], l["cause"], l["message"])
				}
			}
		}
	}()
	select {
	case <-r.rt.Started():
	case err := <-r.done:
		t.Fatalf("replica stopped instead of starting: %v\n%s", err, r.logs)
	case <-time.After(3 * time.Minute): // R3 placement on a busy 2-core machine
		_, _, body, _ := r.probe()
		t.Fatalf("replica not ready 3 minutes after the cluster came; /readyz %+v", body)
	}
	if _, ready, _, err := r.probe(); err != nil || ready != 200 {
		t.Fatalf("started but /readyz = %d (%v)", ready, err)
	}
}

// attemptLogs counts the replica's log lines about one step and checks each
// carries its attempt number, so a wait shows as a line per attempt, not a
// flood.
func (r *replica) attemptLogs(t *testing.T, step string) int {
	t.Helper()
	n := 0
	for _, l := range r.logs.JSONLines() {
		if l["step"] != step || l["level"] != "warn" {
			continue
		}
		if a, ok := l["attempt"].(float64); !ok || a < 1 {
			t.Fatalf("log line without an attempt number: %v", l)
		}
		n++
	}
	return n
}

// serves checks the replica answers a request end to end on the cluster.
func serves(t *testing.T, url string) {
	t.Helper()
	_, js := testkit.WaitJetStream(t, url)
	nc := js.Conn()
	testkit.Eventually(t, 30*time.Second, "the catalog answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := client.Call[[]schemas.Product](ctx, nc, schemas.SubjectListProducts, schemas.ListProducts{})
		return err == nil
	})
}

func TestReplicasStartedBeforeAnyNATSNodeBecomeReady(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	cluster := testkit.NewNodes(t, 3) // ports chosen, no node running
	replicas := []*replica{startReplica(t, cluster.URL()), startReplica(t, cluster.URL())}
	var step string
	for _, r := range replicas {
		step = r.waitingFor(t, "connect to NATS")
	}
	// The wait shows once per attempt, each with its number: the backoff
	// tops out at 1s, so a few seconds are a handful of lines, not thousands.
	if n := replicas[0].attemptLogs(t, step); n < 1 || n > 200 {
		t.Fatalf("%d log lines for %q", n, step)
	}
	for i := range 3 {
		cluster.Start(i)
	}
	for _, r := range replicas {
		r.waitReady(t)
	}
	serves(t, cluster.URL())
}

func TestReplicasStartedWithoutAMetaLeaderBecomeReadyWhenItIsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	cluster := testkit.StartCluster(t)
	testkit.WaitJetStream(t, cluster.URL())
	// Two of three nodes gone: the last one cannot elect a meta leader, so
	// it accepts clients but JetStream cannot create anything.
	cluster.Kill(1)
	cluster.Kill(2)
	replicas := []*replica{startReplica(t, cluster.URL()), startReplica(t, cluster.URL())}
	for _, r := range replicas {
		step := r.waitingFor(t, "stream") // connected; the first stream cannot be placed
		if strings.Contains(step, "connect") {
			t.Fatalf("waiting for %q; the node that is up accepts clients", step)
		}
	}
	cluster.Start(1)
	cluster.Start(2)
	for _, r := range replicas {
		r.waitReady(t)
	}
	serves(t, cluster.URL())
}
