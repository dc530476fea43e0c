//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/internal/load"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/schemas"
)

// process is one natsfn command running as its own OS process.
type process struct {
	t     *testing.T
	name  string
	args  []string
	ready string // URL that answers 200 once it serves
	mu    sync.Mutex
	cmd   *exec.Cmd
}

func (p *process) start() {
	p.t.Helper()
	args, _ := json.Marshal(p.args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NATSFN_CHAOS_ARGS="+string(args))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	go func() { _ = cmd.Wait() }()
}

func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd = nil
	}
}

func (p *process) waitReady(within time.Duration) {
	p.t.Helper()
	start := time.Now()
	last := "no answer yet"
	ok := testkit.Poll(within, func() bool {
		resp, err := http.Get(p.ready)
		if err != nil {
			last = err.Error()
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%s %s", resp.Status, body)
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		p.t.Fatalf("%s not ready within %s; last /readyz: %s", p.name, within, last)
	}
	if d := time.Since(start); d > 10*time.Second {
		p.t.Logf("%s took %s to get ready", p.name, d.Round(time.Second))
	}
}

func duration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("NATSFN_CHAOS_DURATION")); err == nil && d > 0 {
		return d
	}
	return 60 * time.Second
}

func TestChaos(t *testing.T) {
	t.Run("single-node", func(t *testing.T) { chaosRun(t, 1) })
	t.Run("three-node-cluster", func(t *testing.T) { chaosRun(t, 3) })
}

// The retry budget (30 deliveries, backoff up to 2s: about a minute)
// outlasts every injected fault, so no event should run out of deliveries
// and the dead-letter stream must stay empty; the order timeout is the
// safety net the system has, not something the run should need.
func chaosRun(t *testing.T, nodes int) {
	run := duration()
	cluster := testkit.StartNodes(t, nodes)
	url := cluster.URL()
	admin, js := testkit.WaitJetStream(t, url)

	var all []*process
	fnArgs := func(svc string, port int) []string {
		return []string{"run", svc, "--nats-url", url, "--admin-addr", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "error",
			"--replicas", fmt.Sprint(nodes), "--ack-wait", "2s", "--max-deliver", "30", "--retry-min", "100ms", "--retry-max", "2s",
			"--order-timeout", "2m", "--shutdown-timeout", "2s"}
	}
	newProcess := func(name string, args []string, ready string) *process {
		p := &process{t: t, name: name, args: args, ready: ready}
		all = append(all, p)
		t.Cleanup(p.kill)
		return p
	}
	simPort := testkit.FreePort(t)
	newProcess("paysim", fnArgs("paysim", simPort), fmt.Sprintf("http://127.0.0.1:%d/readyz", simPort))
	var victims, payments []*process
	for _, svc := range []string{"orders", "inventory", "payment"} {
		for i := range 2 {
			port := testkit.FreePort(t)
			p := newProcess(fmt.Sprintf("%s-%d", svc, i+1), fnArgs(svc, port), fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
			victims = append(victims, p)
			if svc == "payment" {
				payments = append(payments, p)
			}
		}
	}
	httpPort := testkit.FreePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	gw := newProcess("gateway", []string{"gateway", "--nats-url", url, "--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--request-timeout", "5s", "--log-level", "error"}, api+"/readyz")
	for _, p := range all {
		p.start()
	}
	for _, p := range all {
		p.waitReady(60 * time.Second)
	}
	ctx := context.Background()
	if _, err := inventory.Seed(ctx, js, inventory.DemoCatalog(5000), nodes); err != nil {
		t.Fatal(err)
	}
	before, err := inventory.Stock(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	initial := load.Snapshot(before)

	// The faults, while the load runs.
	var kills, natsRestarts atomic.Int64
	var breakerOpened atomic.Bool
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		start := time.Now()
		rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), 1))
		restarts := []float64{0.3, 0.65}
		outage := [2]float64{0.35, 0.65}
		outageOn := false
		tick := time.NewTicker(run / 24)
		defer tick.Stop()
		for {
			select {
			case <-stopChaos:
				return
			case <-tick.C:
			}
			at := float64(time.Since(start)) / float64(run)
			if at >= 1 {
				if outageOn {
					setProvider(admin, 0)
				}
				return // the load has stopped: let the system settle undisturbed
			}
			v := victims[rng.IntN(len(victims))]
			v.kill()
			kills.Add(1)
			v.start()
			if len(restarts) > 0 && at >= restarts[0] {
				restarts = restarts[1:]
				node := int(natsRestarts.Load()) % nodes
				if nodes > 1 {
					node = 1 + int(natsRestarts.Load())%2
				}
				cluster.Kill(node)
				time.Sleep(time.Second)
				cluster.Start(node)
				natsRestarts.Add(1)
			}
			if !outageOn && at >= outage[0] && at < outage[1] {
				outageOn = setProvider(admin, 1)
			}
			if outageOn && at >= outage[1] {
				outageOn = !setProvider(admin, 0)
			}
			if outageOn {
				for _, p := range payments {
					if circuitOpen(p) {
						breakerOpened.Store(true)
					}
				}
			}
		}
	}()
	rep, err := load.Run(ctx, load.Config{Client: load.NewHTTP(api, 8), Concurrency: 8, Duration: run, Rate: 25,
		DeclineRatio: 0.1, FlakyRatio: 0.1, Settle: 3 * time.Minute, Seed: uint64(time.Now().UnixNano())})
	close(stopChaos)
	<-chaosDone
	if err != nil {
		t.Fatal(err)
	}
	setProvider(admin, 0)
	_ = gw

	// The invariants.
	sum := rep.Summary()
	t.Logf("faults: %d replica kills (SIGKILL), %d NATS %s restarts (SIGKILL), payment provider failing every call for 30%% of the run, circuit breaker seen open: %v",
		kills.Load(), natsRestarts.Load(), map[bool]string{true: "node", false: "server"}[nodes > 1], breakerOpened.Load())
	t.Logf("orders: attempted %d, accepted %d, final responses %v, resent after an ambiguous answer %d, outcomes %v",
		sum.Attempted, sum.Accepted, sum.Codes, sum.Retried, sum.Outcomes)
	if sum.Unknown > 0 {
		// An order without a definite answer may exist: stock cannot be counted.
		t.Fatalf("%d orders never got a definite answer within the retry budget", sum.Unknown)
	}
	if kills.Load() < 10 || natsRestarts.Load() < 2 {
		t.Errorf("too few faults: %d kills, %d NATS restarts", kills.Load(), natsRestarts.Load())
	}
	if sum.Unsettled > 0 {
		t.Errorf("INVARIANT: %d accepted orders are not in a terminal state", sum.Unsettled)
	} else {
		t.Logf("INVARIANT ok: every one of %d accepted orders is confirmed or cancelled, none pending", sum.Accepted)
	}
	stockErr := errors.New("not read yet")
	settled := testkit.Poll(90*time.Second, func() bool {
		now, err := inventory.Stock(ctx, js)
		if err != nil {
			stockErr = err
			return false
		}
		stockErr = load.CheckStock(initial, now, rep.Confirmed())
		return stockErr == nil
	})
	if !settled {
		t.Fatalf("INVARIANT: stock not conserved 90s after every order settled: %v", stockErr)
	}
	now, _ := inventory.Stock(ctx, js)
	for _, p := range now {
		t.Logf("INVARIANT ok: %s initial %d = available %d + confirmed %d; reserved %d", p.ProductID, initial[p.ProductID], p.Available, rep.Confirmed()[p.ProductID], p.Reserved)
	}
	var counts schemas.ChargeCountsResult
	testkit.Eventually(t, 10*time.Second, "the simulator answers", func() bool {
		c, err := client.Call[schemas.ChargeCountsResult](ctx, admin, schemas.SubjectCharges, schemas.ChargeCounts{})
		counts = c
		return err == nil
	})
	doubled, confirmedUncharged, cancelledKept := 0, 0, 0
	for _, o := range rep.Accepted {
		c, r := counts.Charges[o.ID], counts.Refunds[o.ID]
		switch {
		case c > 1:
			doubled++
		case o.Status == schemas.StatusConfirmed && c != 1:
			confirmedUncharged++
		case o.Status == schemas.StatusCancelled && c != r:
			cancelledKept++
		}
	}
	if doubled+confirmedUncharged+cancelledKept > 0 {
		t.Errorf("INVARIANT: %d orders charged twice, %d confirmed without one charge, %d cancelled but charged", doubled, confirmedUncharged, cancelledKept)
	} else {
		t.Logf("INVARIANT ok: no order charged twice; every confirmed order charged once; every charged cancelled order refunded (%d refunds)", len(counts.Refunds))
	}
	dlq, err := deadletter.Open(ctx, admin)
	var letters []deadletter.Letter
	if err == nil {
		letters, _ = dlq.List(ctx)
	}
	for _, d := range letters {
		t.Errorf("INVARIANT: unexpected dead letter %s/%s %s (%s): %s", d.Service, d.Function, d.Subject, d.Class, d.Error)
	}
	if len(letters) == 0 {
		t.Logf("INVARIANT ok: the dead-letter stream is empty (only transient faults were injected)")
	}
	if !breakerOpened.Load() {
		t.Logf("note: the payment circuit breaker was not seen open (replicas killed mid-window reset it)")
	}
}

// setProvider sets the simulator's failure rate; it reports success.
func setProvider(nc *nats.Conn, rate float64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := client.Call[schemas.Simulate](ctx, nc, schemas.SubjectSimulate, schemas.Simulate{FailureRate: rate})
	return err == nil
}

// circuitOpen reads a payment replica's breaker state from its /metrics.
func circuitOpen(p *process) bool {
	resp, err := http.Get(strings.TrimSuffix(p.ready, "/readyz") + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, `natsfn_function_circuit_state{service="payment",function="charge"}`) && strings.HasSuffix(line, " 2") {
			return true
		}
	}
	return false
}
