package load

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/schemas"
)

// Latencies summarises one latency: how many and where the percentiles lie.
type Latencies struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

func summarize(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Latencies{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

// Summary is a Report in numbers, for the table and for --json.
type Summary struct {
	Attempted     int            `json:"attempted"`
	Accepted      int            `json:"accepted"`
	Completed     int            `json:"completed"`
	Unsettled     int            `json:"unsettled"`
	Retried       int            `json:"retried"`
	Unknown       int            `json:"unknown"`
	AcceptedRate  float64        `json:"accepted_per_second"`
	CompletedRate float64        `json:"completed_per_second"`
	Accept        Latencies      `json:"accept_latency"`
	EndToEnd      Latencies      `json:"end_to_end_latency"`
	Outcomes      map[string]int `json:"outcomes"`
	Codes         map[string]int `json:"http_codes"`
	Stock         string         `json:"stock_check,omitempty"`
}

// Summary computes rates and latency percentiles.
func (r *Report) Summary() Summary {
	s := Summary{Attempted: r.Attempted, Accepted: len(r.Accepted), Unsettled: r.Unsettled, Retried: r.Retried, Unknown: r.Unknown,
		Outcomes: r.Outcomes(), Codes: map[string]int{}}
	var accept, e2e []time.Duration
	var last time.Duration
	var first time.Time
	for _, o := range r.Accepted {
		accept = append(accept, o.Accept)
		if first.IsZero() || o.Placed.Before(first) {
			first = o.Placed
		}
	}
	for _, o := range r.Accepted {
		if o.Settled > 0 {
			s.Completed++
			e2e = append(e2e, o.Settled)
			last = max(last, o.Placed.Sub(first)+o.Settled)
		}
	}
	s.Accept, s.EndToEnd = summarize(accept), summarize(e2e)
	if r.PlaceTime > 0 {
		s.AcceptedRate = float64(s.Accepted) / r.PlaceTime.Seconds()
	}
	if last > 0 {
		s.CompletedRate = float64(s.Completed) / last.Seconds()
	}
	for code, n := range r.Codes {
		name := strconv.Itoa(code)
		if code == 0 {
			name = "transport error"
		}
		s.Codes[name] = n
	}
	return s
}

// Table writes the summary for people.
func (s Summary) Table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tcount\trate/s\tp50\tp90\tp99\tmax\t")
	row := func(name string, n int, rate float64, l Latencies) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", name, n, rate, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	}
	row("accepted (POST → 202)", s.Accepted, s.AcceptedRate, s.Accept)
	row("completed (POST → final status)", s.Completed, s.CompletedRate, s.EndToEnd)
	_ = tw.Flush()
	fmt.Fprintf(w, "\nattempted %d; outcomes: %s; final responses: %s\n", s.Attempted, counts(s.Outcomes), counts(s.Codes))
	if s.Retried > 0 {
		fmt.Fprintf(w, "%d orders were sent again under their Idempotency-Key after an ambiguous answer\n", s.Retried)
	}
	if s.Unknown > 0 {
		fmt.Fprintf(w, "UNKNOWN: %d orders never got a definite answer; they may exist, so stock checks cannot count them\n", s.Unknown)
	}
	if s.Unsettled > 0 {
		fmt.Fprintf(w, "NOT SETTLED: %d accepted orders never reached a final status\n", s.Unsettled)
	}
	if s.Stock != "" {
		fmt.Fprintf(w, "stock check: %s\n", s.Stock)
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Snapshot is total stock per product (available + reserved), taken when no
// order is in flight, to check conservation afterwards.
func Snapshot(products []schemas.Product) map[string]int64 {
	out := map[string]int64{}
	for _, p := range products {
		out[p.ProductID] = p.Available + p.Reserved
	}
	return out
}
