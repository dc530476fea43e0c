package natsfn

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/internal/tracing"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// Traces. With a tracer provider (Config.TracerProvider, or the standard
// OTEL_* environment variables) every invocation is a span, a child of the
// traceparent its request or event carries, and every message the runtime
// sends on its behalf (events, schedules, records, keys, calls) is a child
// span whose context travels in the message's traceparent: one order's
// saga is one trace. Without one, none of this code runs: an invocation
// pays one nil check, and traceparent passes through unchanged.

var propagator = propagation.TraceContext{}

// startInvocation starts the span of one invocation, under the trace
// context its message carries.
func (rt *Runtime) startInvocation(ctx context.Context, b *binding, c *call) (context.Context, trace.Span) {
	remote := propagator.Extract(context.Background(), wire.Carrier(c.header))
	if sc := trace.SpanContextFromContext(remote); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	kind, subject := trace.SpanKindServer, b.subject
	if c.trigger != "" {
		kind, subject = trace.SpanKindConsumer, c.trigger
	}
	return rt.tracer.Start(ctx, b.service+"/"+b.fn.Name, trace.WithSpanKind(kind), trace.WithAttributes(
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", subject),
		attribute.String("natsfn.service", b.service),
		attribute.String("natsfn.function", b.fn.Name),
		attribute.String("natsfn.correlation_id", c.cid),
		attribute.Int("natsfn.attempt", max(c.attempt, 1)),
	))
}

// endSpan records how an operation ended.
func endSpan(span trace.Span, err error) {
	if err != nil {
		e := wire.Classify(err)
		span.SetAttributes(attribute.Int("natsfn.code", e.Code))
		span.SetStatus(codes.Error, e.Message)
	}
	span.End()
}

// startTracing takes the configured tracer provider, or builds one from the
// environment; with neither, tracing stays off.
func (rt *Runtime) startTracing(ctx context.Context) error {
	tp := rt.cfg.TracerProvider
	if tp == nil {
		name := rt.cfg.Name
		if len(rt.services) == 1 {
			name = rt.services[0].Name
		}
		var err error
		if tp, rt.stopTracing, err = tracing.FromEnv(ctx, name); err != nil {
			return fmt.Errorf("%w: OpenTelemetry from the environment: %v", ErrConfig, err)
		}
	}
	if tp != nil {
		rt.tracer = tp.Tracer(wire.TracerName)
	}
	return nil
}

// flushTracing sends the spans still buffered, within a few seconds.
func (rt *Runtime) flushTracing() {
	if rt.stopTracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rt.stopTracing(ctx); err != nil {
		rt.log.Warn().AnErr("cause", err).Msg("cannot flush the last spans")
	}
}
