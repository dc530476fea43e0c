// Package tracing turns OpenTelemetry on from the standard environment
// variables, for the runtime and the gateway: OTEL_TRACES_EXPORTER (otlp,
// console, none), OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL
// (http/protobuf, grpc), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and
// the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG). With none of
// them set, tracing is off: no provider, no exporter, and the callers skip
// their span code altogether.
package tracing

import (
	"cmp"
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Enabled reports whether the environment asks for traces.
func Enabled() bool {
	if e := os.Getenv("OTEL_TRACES_EXPORTER"); e != "" {
		return e != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv builds a tracer provider as the environment says, named service
// unless OTEL_SERVICE_NAME says otherwise, batching spans to the exporter.
// It returns nil when tracing is off; shutdown flushes what is pending.
func FromEnv(ctx context.Context, service string) (trace.TracerProvider, func(context.Context) error, error) {
	if !Enabled() {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := exporter(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// exporter is the span exporter OTEL_TRACES_EXPORTER names (default otlp),
// over the protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names (default
// http/protobuf); the SDK's exporters read their endpoint, headers and
// timeouts from the environment themselves. (contrib's autoexport does the
// same choice but links the metric and log exporters too: 1.5 MB more in a
// binary with a 25 MB image budget.)
func exporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	switch e := cmp.Or(os.Getenv("OTEL_TRACES_EXPORTER"), "otlp"); e {
	case "otlp":
		switch p := cmp.Or(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf"); p {
		case "http/protobuf":
			return otlptracehttp.New(ctx)
		case "grpc":
			return otlptracegrpc.New(ctx)
		default:
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: use http/protobuf or grpc", p)
		}
	case "console":
		return stdouttrace.New()
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: use otlp, console or none", e)
	}
}
