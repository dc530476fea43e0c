package natsfn_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// BenchmarkTracing is the echo function of BenchmarkInvoke (validated,
// default concurrency) with tracing off and with every invocation sampled
// and exported over OTLP/HTTP, batched, to a receiver on loopback that
// reads and drops each export. cpu-ns/op is the CPU of the whole process
// (server, callers, function and exporter) per request.
func BenchmarkTracing(b *testing.B) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer recv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(recv.URL+"/v1/traces"))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	srv := startNATS(b)
	echo := func(_ context.Context, in helloIn) (helloOut, error) {
		return helloOut{Greeting: "hello " + in.Name}, nil
	}
	svc := func(name string) natsfn.Service {
		return natsfn.Service{Name: name, Version: "1.0.0", Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "echo"}, echo)}}
	}
	startRuntime(b, srv.ClientURL(), natsfn.Config{Logger: discardLogger()}, svc("off"))
	startRuntime(b, srv.ClientURL(), natsfn.Config{Logger: discardLogger(), TracerProvider: tp}, svc("otlp"))
	b.Run("off", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "off.echo") })
	b.Run("otlp", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "otlp.echo") })
}
