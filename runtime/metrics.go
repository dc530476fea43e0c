package natsfn

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// recorder records what the runtime does in a VictoriaMetrics set (one per
// Runtime, so tests and `natsfn local` can run several runtimes in one
// process), written in the Prometheus text format on the admin server's
// /metrics.
type recorder struct {
	set *metrics.Set
}

// writePrometheus writes the runtime's metrics plus Go and process metrics.
func (m *recorder) writePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}

// instrument counts invocations by outcome and code, times them (summary
// with quantiles, usable by any Prometheus) and tracks how many run now.
// The metric handles are looked up once per function, not per invocation.
func (m *recorder) instrument(service, function string) middleware {
	labels := fmt.Sprintf(`service=%q,function=%q`, service, function)
	inFlight := m.set.GetOrCreateGauge("natsfn_invocations_in_flight{"+labels+"}", nil)
	duration := m.set.GetOrCreateSummary("natsfn_invocation_duration_seconds{" + labels + "}")
	var counters sync.Map // code -> *metrics.Counter
	counter := func(code int, outcome string) *metrics.Counter {
		if c, ok := counters.Load(code); ok {
			return c.(*metrics.Counter)
		}
		c := m.set.GetOrCreateCounter(fmt.Sprintf(`natsfn_invocations_total{%s,outcome=%q,code="%d"}`, labels, outcome, code))
		counters.Store(code, c)
		return c
	}
	return func(next handler) handler {
		return func(ctx context.Context, inv *rawCall) ([]byte, error) {
			inFlight.Inc()
			out, err := next(ctx, inv)
			inFlight.Dec()
			code, outcome := outcomeOf(err)
			counter(code, outcome).Inc()
			duration.UpdateDuration(inv.Started)
			return out, err
		}
	}
}

// connection metrics
func (m *recorder) connected(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.set.GetOrCreateGauge("natsfn_nats_connected", nil).Set(v)
}

func (m *recorder) deadLetters(service, function, class string) *metrics.Counter {
	return m.set.GetOrCreateCounter(fmt.Sprintf(`natsfn_dead_letters_total{service=%q,function=%q,class=%q}`, service, function, class))
}

func (m *recorder) disconnected() { m.set.GetOrCreateCounter("natsfn_nats_disconnects_total").Inc() }
func (m *recorder) reconnected()  { m.set.GetOrCreateCounter("natsfn_nats_reconnects_total").Inc() }
func (m *recorder) connectAttempt() {
	m.set.GetOrCreateCounter("natsfn_nats_connect_attempts_total").Inc()
}

// exportStats publishes the numeric figures of a function's Stats as
// gauges natsfn_function_<name>{service,function}, e.g. a circuit breaker's
// state, so Prometheus sees what `nats micro stats` shows.
func (m *recorder) exportStats(service, function string, stats func() map[string]any) {
	labels := fmt.Sprintf(`service=%q,function=%q`, service, function)
	m.set.RegisterMetricsWriter(func(w io.Writer) {
		values := stats()
		names := make([]string, 0, len(values))
		for k := range values {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			var v float64
			switch n := values[k].(type) {
			case int:
				v = float64(n)
			case int64:
				v = float64(n)
			case uint:
				v = float64(n)
			case uint64:
				v = float64(n)
			case float64:
				v = n
			default:
				continue
			}
			name := "natsfn_function_" + metricNameUnsafe.ReplaceAllString(k, "_")
			metrics.WriteGaugeFloat64(w, name+"{"+labels+"}", v)
		}
	})
}

var metricNameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)
