package natsfn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
)

type hop struct {
	N int `json:"n"`
}

// BenchmarkEventChain compares events/s through a chain of three event
// functions (a -> b -> c -> done; each step: pull, validate, run, publish
// its output with a derived id, ack) with synchronous JetStream publishes,
// one at a time, on the same embedded server: what `nats bench js pub
// --batch 1` measures. "idempotent" chains Idempotent functions, as every
// saga step is; "claimed" chains functions that are not, so each step also
// claims its event and marks it done in the claims bucket (two KV writes).
// Throughput ratio chain/jspub = jspub ns/op ÷ chain ns/op (`task bench`
// prints it).
func BenchmarkEventChain(b *testing.B) {
	srv := startNATS(b)
	nc := connectClient(b, srv)
	js := jsFor(b, nc)
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	step := func(name, on, emits string, idempotent bool) *natsfn.Function {
		return natsfn.Func(natsfn.FuncConfig{Name: name, On: []string{on}, Result: emits, Idempotent: idempotent},
			func(_ context.Context, in hop) (hop, error) { return hop{N: in.N + 1}, nil })
	}
	var fns []*natsfn.Function
	for _, chain := range []struct {
		name       string
		idempotent bool
	}{{"idempotent", true}, {"claimed", false}} {
		subj := func(s string) string { return "chain." + chain.name + "." + s + ".v1" }
		fns = append(fns,
			step(chain.name+"-a", subj("a"), subj("b"), chain.idempotent),
			step(chain.name+"-b", subj("b"), subj("c"), chain.idempotent),
			step(chain.name+"-c", subj("c"), subj("done"), chain.idempotent))
	}
	startRuntime(b, srv.ClientURL(), natsfn.Config{Logger: discardLogger()}, natsfn.Service{
		Name: "chain", Version: "1.0.0",
		Streams:   []natsfn.Stream{{Name: "CHAIN", Subjects: []string{"chain.*.*.v1"}}},
		Functions: fns,
	})

	// Each run starts from empty streams, so one run's stored messages and
	// remembered message ids do not slow the next (-count 3 runs thrice).
	purge := func(b *testing.B, name string) jetstream.Stream {
		s, err := js.Stream(ctx, name)
		if err == nil {
			err = s.Purge(ctx)
		}
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	for _, chain := range []string{"idempotent", "claimed"} {
		b.Run(chain+"/bare", func(b *testing.B) {
			purge(b, "RAW")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := js.Publish(ctx, "raw.x", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(chain+"/runtime", func(b *testing.B) {
			stream := purge(b, "CHAIN")
			done := "chain." + chain + ".done.v1"
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := js.PublishAsync("chain."+chain+".a.v1", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			deadline := time.Now().Add(5 * time.Minute)
			// Polled every 10ms: a stream info request costs the server
			// something, and the chain is what is measured.
			for doneCount(b, stream, done) < uint64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("only %d of %d events came through the chain", doneCount(b, stream, done), b.N)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func doneCount(b *testing.B, s jetstream.Stream, subject string) uint64 {
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Subjects[subject]
}
