package deploy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/load"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/schemas"
)

// TestSagaSurvivesANodeKilledHard runs the saga on a 3-node cluster with R3
// streams and buckets under steady load, kills one node with SIGKILL
// mid-run and brings it back: every accepted order ends in one terminal
// state, stock is conserved, and no order is charged twice.
func TestSagaSurvivesANodeKilledHard(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: a few dozen seconds")
	}
	cluster := testkit.StartCluster(t)
	url := cluster.URL()
	admin, js := testkit.WaitJetStream(t, url)

	sim := testkit.Must(paysim.New(paysim.Config{}))
	all := testkit.Must(functions.All(functions.Config{Sim: sim}))
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	logs := &testkit.Buffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	rt, err := natsfn.New(natsfn.Config{
		URL: url, Logger: &log, ReconnectWait: 100 * time.Millisecond, Concurrency: 8,
		Events: natsfn.EventsConfig{Replicas: 3, AckWait: 3 * time.Second, MaxDeliver: 10,
			RetryMin: 100 * time.Millisecond, RetryMax: time.Second},
	}, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)
	ctx := context.Background()
	catalog := inventory.DemoCatalog(400)
	if _, err := inventory.Seed(ctx, js, catalog, 3); err != nil {
		t.Fatal(err)
	}
	initial := map[string]int64{}
	for _, p := range catalog {
		initial[p.ProductID] = p.Available
	}
	for _, name := range []string{"ORDERS", "INVENTORY", "PAYMENT", "KV_inventory", deadletter.Name} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", name, r)
		}
		// A lagging replica must not answer a read a step decides on.
		if name != deadletter.Name && s.CachedInfo().Config.AllowDirect {
			t.Fatalf("stream %s allows direct gets on 3 replicas: reads must go to its leader", name)
		}
	}
	gwConn, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer gwConn.Close()
	g, err := gateway.New(gateway.Config{RequestTimeout: 5 * time.Second}, gwConn, functions.Routes())
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(g.Handler())
	defer api.Close()

	// Kill a node hard a third into the run, bring it back a third later.
	const run = 12 * time.Second
	go func() {
		time.Sleep(run / 3)
		cluster.Kill(1)
		t.Log("node n2 killed")
		time.Sleep(run / 3)
		cluster.Start(1)
		t.Log("node n2 back")
	}()
	rep, err := load.Run(ctx, load.Config{Client: load.NewHTTP(api.URL, 8), Concurrency: 8, Duration: run, Rate: 40,
		DeclineRatio: 0.1, FlakyRatio: 0.1, Settle: 2 * time.Minute, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("attempted %d, accepted %d, final HTTP codes %v, resent after an ambiguous answer %d, outcomes %v",
		rep.Attempted, len(rep.Accepted), rep.Codes, rep.Retried, rep.Outcomes())
	if rep.Unknown > 0 {
		// An order without a definite answer may exist: stock cannot be counted.
		t.Fatalf("%d orders never got a definite answer within the retry budget", rep.Unknown)
	}
	if len(rep.Accepted) < rep.Attempted/2 {
		t.Fatalf("only %d of %d orders accepted", len(rep.Accepted), rep.Attempted)
	}
	if rep.Unsettled > 0 {
		t.Fatalf("%d accepted orders never reached a terminal state", rep.Unsettled)
	}
	var stockErr error
	deadline := time.Now().Add(30 * time.Second)
	for {
		stock, err := inventory.Stock(ctx, js)
		if stockErr = err; err == nil {
			stockErr = load.CheckStock(initial, stock, rep.Confirmed())
		}
		if stockErr == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if stockErr != nil {
		if d, err := deadletter.Open(ctx, admin); err == nil {
			list, _ := d.List(ctx)
			for _, dl := range list {
				t.Logf("dead letter: %s/%s %s %s (%d deliveries): %s", dl.Service, dl.Function, dl.Subject, dl.Class, dl.Deliveries, dl.Error)
			}
		}
		st, _ := js.Stream(ctx, "ORDERS")
		si, _ := st.Info(ctx, jetstream.WithSubjectFilter(schemas.EventOrderConfirmed))
		t.Logf("ORDERS holds %d orders.confirmed.v1 events; %d orders are confirmed", si.State.Subjects[schemas.EventOrderConfirmed], rep.Outcomes()[schemas.StatusConfirmed])
		pst, _ := js.Stream(ctx, "PAYMENT")
		psi, _ := pst.Info(ctx, jetstream.WithSubjectFilter(schemas.EventPaymentCharged))
		t.Logf("PAYMENT holds %d payment.charged.v1 events", psi.State.Subjects[schemas.EventPaymentCharged])
		kv, _ := js.KeyValue(ctx, "inventory")
		okv, _ := js.KeyValue(ctx, "orders")
		for _, p := range catalog {
			e, err := kv.Get(ctx, "product."+p.ProductID)
			if err != nil {
				continue
			}
			var rec struct {
				Holds map[string]int64 `json:"holds"`
			}
			_ = json.Unmarshal(e.Value(), &rec)
			for order := range rec.Holds {
				r, _ := kv.Get(ctx, "order."+order)
				o, _ := okv.Get(ctx, "order."+order)
				var rv, ov []byte
				if r != nil {
					rv = r.Value()
				}
				if o != nil {
					ov = o.Value()
				}
				t.Logf("hold %s on %s: reservation %s order %s", order, p.ProductID, rv, ov)
				var orec struct {
					CorrelationID string `json:"correlation_id"`
				}
				_ = json.Unmarshal(ov, &orec)
				for _, l := range logs.JSONLines() {
					if l["correlation_id"] == orec.CorrelationID && (l["message"] == "event stored" || l["function"] == "confirm") {
						b, _ := json.Marshal(l)
						t.Logf("  log: %s", b)
						if seq, ok := l["seq"].(float64); ok && l["stream"] == "ORDERS" {
							m, err := st.GetMsg(ctx, uint64(seq))
							if err != nil {
								t.Logf("    ORDERS seq %d: %v", uint64(seq), err)
							} else {
								t.Logf("    ORDERS seq %d: %s %s", uint64(seq), m.Subject, m.Header.Get("ce-id"))
							}
						}
					}
				}
				ckv, _ := js.KeyValue(ctx, "natsfn_claims")
				if keys, err := ckv.ListKeysFiltered(ctx, "inventory.commit.>"); err == nil {
					n := 0
					for range keys.Keys() {
						n++
					}
					t.Logf("inventory.commit claims: %d", n)
				}
				st, _ := js.Stream(ctx, "ORDERS")
				oc, _ := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{schemas.EventOrderConfirmed}})
				batch, _ := oc.Fetch(1000, jetstream.FetchMaxWait(time.Second))
				for m := range batch.Messages() {
					if m.Headers().Get("ce-id") == order {
						md, _ := m.Metadata()
						t.Logf("confirmed event for %s: seq %d", order, md.Sequence.Stream)
					}
				}
				c, _ := js.Consumer(ctx, "ORDERS", "inventory_commit_orders_confirmed_v1")
				info, _ := c.Info(ctx)
				t.Logf("commit consumer: delivered %+v ackfloor %+v pending %d ackpending %d redelivered %d", info.Delivered, info.AckFloor, info.NumPending, info.NumAckPending, info.NumRedelivered)
			}
		}
		t.Fatalf("stock is not conserved: %v", stockErr)
	}
	counts, _ := sim.Counts(ctx, schemas.ChargeCounts{})
	for _, o := range rep.Accepted {
		charged, refunded := counts.Charges[o.ID], counts.Refunds[o.ID]
		switch {
		case charged > 1:
			t.Errorf("order %s charged %d times", o.ID, charged)
		case o.Status == schemas.StatusConfirmed && charged != 1:
			t.Errorf("confirmed order %s charged %d times", o.ID, charged)
		case o.Status == schemas.StatusCancelled && charged != refunded:
			t.Errorf("cancelled order %s charged %d, refunded %d", o.ID, charged, refunded)
		}
	}
}
