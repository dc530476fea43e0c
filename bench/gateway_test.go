package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/schemas"
)

// BenchmarkGatewayAccept: accepting an order through the HTTP gateway vs
// sending the same request straight over NATS (what `nats bench service
// request` measures), 16 clients each. Both create a real order; only the
// orders service runs, so the rest of the saga does not compete for the CPU.
func BenchmarkGatewayAccept(b *testing.B) {
	s := startSystem(b, "orders")
	b.Run("bare", func(b *testing.B) {
		conns := make([]*nats.Conn, 4)
		for i := range conns {
			nc, err := nats.Connect(s.srv.ClientURL())
			must(b, err)
			defer nc.Close()
			conns[i] = nc
		}
		var next atomic.Int64
		b.ResetTimer()
		var wg sync.WaitGroup
		var done atomic.Int64
		for c := range clients {
			wg.Go(func() {
				nc := conns[c%len(conns)]
				for next.Add(1) <= int64(b.N) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					reply, err := nc.RequestWithContext(ctx, schemas.SubjectCreateOrder, orderBody)
					cancel()
					if err != nil || reply.Header.Get(micro.ErrorCodeHeader) != "" {
						b.Errorf("create: %v %v", err, reply)
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
	})
	b.Run("runtime", func(b *testing.B) {
		b.ResetTimer()
		postOrders(b, s.api, b.N)
	})
}
