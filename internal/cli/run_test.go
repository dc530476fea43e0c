package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/schemas"
)

// TestTwoPaymentProcessesShareTheWork: each `natsfn run payment` is one
// instance in `nats micro ls`, and JetStream spreads the events over both.
func TestTwoPaymentProcessesShareTheWork(t *testing.T) {
	srv := testkit.StartNATS(t)
	url := srv.ClientURL()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	for _, svc := range []string{"payment", "payment", "paysim"} {
		go func() {
			var out testkit.Buffer
			done <- run(ctx, &out, "run", svc, "--nats-url", url, "--admin-addr", "", "--log-level", "error")
		}()
	}
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("run stopped with %v", err)
			}
		}
	}()
	nc := testkit.Connect(t, url)
	instances := func() []micro.Ping {
		inbox := nats.NewInbox()
		sub, _ := nc.SubscribeSync(inbox)
		defer sub.Unsubscribe()
		_ = nc.PublishRequest("$SRV.PING.payment", inbox, nil)
		var pings []micro.Ping
		for {
			m, err := sub.NextMsg(300 * time.Millisecond)
			if err != nil {
				return pings
			}
			var p micro.Ping
			_ = json.Unmarshal(m.Data, &p)
			pings = append(pings, p)
		}
	}
	testkit.Eventually(t, 15*time.Second, "two payment instances answer PING", func() bool { return len(instances()) == 2 })

	js, _ := jetstream.New(nc)
	const events = 40
	for i := range events {
		id := fmt.Sprintf("order-%d", i)
		msg := nats.NewMsg(schemas.EventStockReserved)
		msg.Data, _ = json.Marshal(schemas.StockReservedV1{OrderID: id, TotalCents: 100, PaymentToken: "tok_visa"})
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	perInstance := map[string]int{}
	testkit.Eventually(t, 20*time.Second, "every event charged", func() bool {
		stats, err := collectStats(nc, "payment")
		if err != nil {
			return false
		}
		total := 0
		for _, s := range stats {
			n := 0
			for _, e := range s.Endpoints {
				// Events show in the endpoint's data (micro counts requests).
				var d struct {
					Events struct {
						Invocations int `json:"num_invocations"`
					} `json:"events"`
				}
				if e.Name == "charge" && json.Unmarshal(e.Data, &d) == nil {
					n += d.Events.Invocations
				}
			}
			perInstance[s.ID] = n
			total += n
		}
		return total == events
	})
	for id, n := range perInstance {
		if n == 0 {
			t.Errorf("instance %s did no work: %v", id, perInstance)
		}
	}
	if len(perInstance) != 2 {
		t.Errorf("instances with stats: %v", perInstance)
	}
}

func collectStats(nc *nats.Conn, service string) ([]micro.Stats, error) {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.STATS."+service, inbox, nil); err != nil {
		return nil, err
	}
	var out []micro.Stats
	for {
		m, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return out, nil
		}
		var s micro.Stats
		if err := json.Unmarshal(m.Data, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}
