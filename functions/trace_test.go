package functions_test

import (
	"net/http"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/schemas"
)

// One order through the saga is one trace: the gateway's HTTP request, each
// step's invocation, and every event, record and call between them, each
// span the child of the one that caused it.
func TestOneOrderIsOneTrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := sagatest.Start(t, sagatest.Options{TracerProvider: tp})

	id := s.PlaceOrder("tok_visa", sagatest.Item("sku-1", 1))
	if o := s.Settle(id); o.Status != schemas.StatusConfirmed {
		t.Fatalf("order %s: %s", id, o.Status)
	}
	var root tracetest.SpanStub
	steps := []string{"orders/create", "inventory/reserve", "payment/charge", "orders/confirm", "inventory/commit"}
	testkit.Eventually(t, 10*time.Second, "every step of the order is a span of its trace", func() bool {
		all := spans.GetSpans()
		root = tracetest.SpanStub{}
		for _, sp := range all {
			if sp.Name == "POST /orders" {
				root = sp
			}
		}
		if !root.SpanContext.IsValid() {
			return false
		}
		names := map[string]bool{}
		for _, sp := range all {
			if sp.SpanContext.TraceID() == root.SpanContext.TraceID() {
				names[sp.Name] = true
			}
		}
		for _, st := range steps {
			if !names[st] {
				return false
			}
		}
		return true
	})

	// Parent links: every span of the trace but the root has its parent in
	// the trace, and each step's invocation hangs under the message that
	// triggered it (a publish, or the gateway's call).
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var trace1 []tracetest.SpanStub
	for _, sp := range spans.GetSpans() {
		if sp.SpanContext.TraceID() == root.SpanContext.TraceID() {
			byID[sp.SpanContext.SpanID()] = sp
			trace1 = append(trace1, sp)
		}
	}
	for _, sp := range trace1 {
		if sp.SpanContext.SpanID() == root.SpanContext.SpanID() {
			continue
		}
		if _, ok := byID[sp.Parent.SpanID()]; !ok {
			t.Errorf("span %q has its parent outside the trace", sp.Name)
		}
	}
	wantParent := map[string]string{
		"orders/create":     "call orders.create",
		"inventory/reserve": "publish orders.created.v1",
		"payment/charge":    "publish inventory.reserved.v1",
		"orders/confirm":    "publish payment.charged.v1",
		"inventory/commit":  "publish orders.confirmed.v1",
	}
	for _, sp := range trace1 {
		if want, ok := wantParent[sp.Name]; ok {
			if got := byID[sp.Parent.SpanID()].Name; got != want {
				t.Errorf("%s: parent %q, want %q", sp.Name, got, want)
			}
			if sp.SpanKind != trace.SpanKindServer && sp.SpanKind != trace.SpanKindConsumer {
				t.Errorf("%s: kind %v", sp.Name, sp.SpanKind)
			}
		}
	}
	if t.Failed() || testing.Verbose() {
		for _, sp := range trace1 {
			t.Logf("%s (parent %s)", sp.Name, byID[sp.Parent.SpanID()].Name)
		}
	}

	// Logs carry the trace id.
	var logged bool
	for _, l := range s.Logs.JSONLines() {
		if l["trace_id"] == root.SpanContext.TraceID().String() && l["function"] == "charge" {
			logged = true
		}
	}
	if !logged {
		t.Error("payment's log lines do not carry the trace id")
	}
	if r := s.Do(http.MethodGet, "/orders/"+id, nil); r.Status != http.StatusOK {
		t.Errorf("GET: %d", r.Status)
	}
}

// An order that times out stays one trace: its deadline, set by the
// create, fires with the create's trace context, and the expiry is its
// child.
func TestAnExpiredOrderIsOneTrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	// No payment service: the order stalls until its deadline.
	s := sagatest.Start(t, sagatest.Options{TracerProvider: tp, Services: []string{"orders", "inventory", "paysim"},
		Orders: orders.Config{Timeout: time.Second}})
	id := s.PlaceOrder("tok_visa", sagatest.Item("sku-1", 1))
	if o := s.Settle(id); o.Status != schemas.StatusCancelled {
		t.Fatalf("order %s: %s", id, o.Status)
	}
	testkit.Eventually(t, 10*time.Second, "the expiry is a span of the order's trace, under the create's schedule", func() bool {
		var create, expire, schedule tracetest.SpanStub
		for _, sp := range spans.GetSpans() {
			switch sp.Name {
			case "orders/create":
				create = sp
			case "orders/expire":
				expire = sp
			case "schedule orders.expired.v1":
				schedule = sp
			}
		}
		return create.SpanContext.IsValid() && expire.SpanContext.IsValid() &&
			expire.SpanContext.TraceID() == create.SpanContext.TraceID() &&
			expire.Parent.SpanID() == schedule.SpanContext.SpanID()
	})
}
