package natsfn_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
)

// otlpReceiver is an OTLP/HTTP endpoint that keeps the spans it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string]string // span name -> service.name of its resource
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		var service string
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				o.spans[sp.Name] = service
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// With the standard environment variables and nothing else, a runtime
// exports its spans over OTLP/HTTP.
func TestSpansAreExportedOverOTLP(t *testing.T) {
	recv := &otlpReceiver{spans: map[string]string{}}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hs.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_SERVICE_NAME", "greeter-under-test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")

	srv := startNATS(t)
	greet := natsfn.Func(natsfn.FuncConfig{Name: "greet"}, func(ctx context.Context, in helloIn) (helloOut, error) {
		return helloOut{Greeting: "hello " + in.Name}, nil
	})
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "greeter", Version: "1.0.0", Functions: []*natsfn.Function{greet}})
	nc := connectClient(t, srv)
	if _, err := client.Call[helloOut](ctxWithTimeout(t, context.Background()), nc, "greeter.greet", helloIn{Name: "otel"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the invocation's span reaches the receiver", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return recv.spans["greeter/greet"] != ""
	})
	recv.mu.Lock()
	if got := recv.spans["greeter/greet"]; got != "greeter-under-test" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", got)
	}
	recv.mu.Unlock()
	r.stop()
}

// Without them, nothing is exported: the logs carry no trace id.
func TestNoTracingWithoutTheEnvironment(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"} {
		t.Setenv(k, "")
	}
	srv := startNATS(t)
	greet := natsfn.Func(natsfn.FuncConfig{Name: "greet"}, func(ctx context.Context, in helloIn) (helloOut, error) {
		natsfn.Logger(ctx).Info().Msg("greeting")
		return helloOut{}, nil
	})
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "greeter", Version: "1.0.0", Functions: []*natsfn.Function{greet}})
	nc := connectClient(t, srv)
	if _, err := client.Call[helloOut](ctxWithTimeout(t, context.Background()), nc, "greeter.greet", helloIn{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	var lines int
	for _, l := range r.logs.JSONLines() {
		if l["message"] == "greeting" {
			lines++
			if _, ok := l["trace_id"]; ok {
				t.Errorf("a trace id without tracing: %v", l)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d greeting lines", lines)
	}
}
