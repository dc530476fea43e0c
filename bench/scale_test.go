package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// BenchmarkScale: payment charging with a 20 ms provider and 4 invocations
// at once per replica, on one replica process and on three. The events come
// from JetStream; every replica pulls from the same durable consumer.
// Throughput ratio three/one = one ns/op ÷ three ns/op.
func BenchmarkScale(b *testing.B) {
	for _, c := range []struct {
		name     string
		replicas int
	}{{"one", 1}, {"three", 3}} {
		b.Run(c.name, func(b *testing.B) {
			srv := testkit.StartNATS(b)
			log := zerolog.Nop()
			sim := testkit.Must(paysim.New(paysim.Config{Latency: 20 * time.Millisecond}))
			simRT, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: &log, Concurrency: 64}, sim.Service())
			must(b, err)
			testkit.Serve(b, simRT)
			for range c.replicas {
				replicaProcess(b, srv.ClientURL(), "payment", 4)
			}
			nc := testkit.Connect(b, srv.ClientURL())
			js, _ := jetstream.New(nc)
			done := terminalCounter(b, nc, schemas.EventPaymentCharged)
			b.ResetTimer()
			for i := range b.N {
				data, _ := json.Marshal(schemas.StockReservedV1{OrderID: fmt.Sprintf("o-%d", i), TotalCents: 100, PaymentToken: "tok_visa"})
				if _, err := js.PublishAsync(schemas.EventStockReserved, data); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			waitFor(b, b.N, done)
		})
	}
}

// BenchmarkIdleReplica reports the resident memory of one function replica
// process (payment) after it has started and sat idle for a second.
func BenchmarkIdleReplica(b *testing.B) {
	srv := testkit.StartNATS(b)
	var rss float64
	for b.Loop() {
		pid := replicaProcess(b, srv.ClientURL(), "payment", 8)
		time.Sleep(time.Second) // idle: the point is what it holds at rest
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		must(b, err)
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				var kb float64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				rss = kb / 1024
			}
		}
	}
	b.ReportMetric(rss, "rss-MB")
}
