package bench

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/schemas"
)

// BenchmarkSaga: the whole order flow, natsfn against the hand-written peer,
// each on its own embedded server with the same payment simulator, 16
// clients posting orders. Reports accepted/s (POST to 202) and completed/s
// (POST to the order's terminal event).
func BenchmarkSaga(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		s := startSystem(b, "paysim") // only the simulator: the peer does the rest
		hw := startHandWritten(b, s.NC)
		done := terminalCounter(b, s.NC, "hw.orders.confirmed")
		runSaga(b, hw.api, done)
	})
	b.Run("runtime", func(b *testing.B) {
		s := startSystem(b)
		done := terminalCounter(b, s.NC, schemas.EventOrderConfirmed, schemas.EventOrderCancelled)
		runSaga(b, s.URL, done)
	})
}

func runSaga(b *testing.B, api string, done func() int) {
	b.ResetTimer()
	start := time.Now()
	postOrders(b, api, b.N)
	accepted := time.Since(start)
	waitFor(b, b.N, done)
	completed := time.Since(start)
	b.ReportMetric(perSecond(b.N, accepted), "accepted/s")
	b.ReportMetric(perSecond(b.N, completed), "completed/s")
}
