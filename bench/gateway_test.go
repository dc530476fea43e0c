package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/schemas"
)

// BenchmarkGatewayAccept: accepting an order through the HTTP gateway vs
// sending the same request straight over NATS (bare), and vs raw NATS
// request/reply to a trivial responder on the same server (raw, what `nats
// bench service` measures: the ceiling of any request over NATS here), 16
// clients each. bare and runtime create a real order; only the orders
// service runs, so the rest of the saga does not compete for the CPU.
func BenchmarkGatewayAccept(b *testing.B) {
	s := startSystem(b, "orders")
	b.Run("raw", func(b *testing.B) {
		svc, err := micro.AddService(s.NC, micro.Config{Name: "echo", Version: "1.0.0",
			Endpoint: &micro.EndpointConfig{Subject: "bench.echo", Handler: micro.HandlerFunc(func(r micro.Request) {
				_ = r.Respond(r.Data())
			})}})
		must(b, err)
		defer func() { _ = svc.Stop() }()
		requests(b, s, "bench.echo")
	})
	b.Run("bare", func(b *testing.B) {
		requests(b, s, schemas.SubjectCreateOrder)
	})
	b.Run("runtime", func(b *testing.B) {
		b.ResetTimer()
		postOrders(b, s.URL, b.N)
	})
}

// requests sends b.N order bodies to subject over NATS, 16 clients on four
// connections.
func requests(b *testing.B, s *sagatest.System, subject string) {
	conns := make([]*nats.Conn, 4)
	for i := range conns {
		nc, err := nats.Connect(s.Server.ClientURL())
		must(b, err)
		defer nc.Close()
		conns[i] = nc
	}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			nc := conns[c%len(conns)]
			for next.Add(1) <= int64(b.N) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				reply, err := nc.RequestWithContext(ctx, subject, orderBody)
				cancel()
				if err != nil || reply.Header.Get(micro.ErrorCodeHeader) != "" {
					b.Errorf("%s: %v %v", subject, err, reply)
					return
				}
			}
		})
	}
	wg.Wait()
}
