package wire

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names natsfn's instrumentation.
const TracerName = "github.com/natsfn/natsfn/runtime"

// Carrier reads and writes trace context in NATS headers with the exact,
// lower-case keys of W3C trace context (http.Header's carrier would
// canonicalise them to Traceparent).
type Carrier nats.Header

func (c Carrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c Carrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// ChildSpan starts a span under the one in ctx, from the same provider,
// for a message sent on its behalf, and writes the new span's context into
// h. It returns a nil span when ctx holds no recording span: tracing is
// off (nothing is done) or the trace is not sampled (its context is still
// written into h).
func ChildSpan(ctx context.Context, name string, kind trace.SpanKind, subject string, h nats.Header) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		// Not sampled: no span, but the trace goes on (sampled=0), so the
		// next step does not start a trace of its own.
		if parent.SpanContext().IsValid() && h != nil {
			propagation.TraceContext{}.Inject(ctx, Carrier(h))
		}
		return ctx, nil
	}
	ctx, span := parent.TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithSpanKind(kind),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", subject)))
	if h != nil {
		propagation.TraceContext{}.Inject(ctx, Carrier(h))
	}
	return ctx, span
}
