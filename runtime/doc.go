// Package runtime serves typed Go functions as NATS micro services.
//
// A business step is a plain function, func(ctx, In) (Out, error). Func turns
// it into a Function: the JSON schemas (draft 2020-12) of In and Out are
// generated from the Go types, published in the endpoint metadata
// (request_schema, response_schema) and enforced: every request is validated
// before the function runs, and a bad one gets a 400 that lists each failing
// field. A function returns an *Error (Invalid, NotFound, Conflict, Rule,
// Unavailable) to choose its status; any other error is a 500 whose details
// stay in the log.
//
// Functions are grouped into a Service (one micro service, one instance per
// replica in `nats micro ls`) and run by a Runtime, which adds what every
// service would otherwise write by hand: connecting with backoff and
// reconnecting forever, a correlation id carried through headers, context
// and logs (zerolog), metrics (VictoriaMetrics, Prometheus format), an admin
// server with /healthz, /readyz and /metrics, per-invocation timeouts
// (failsafe-go), panic recovery, and a graceful shutdown that lets in-flight
// invocations finish.
//
// # Concurrency and honest stats
//
// A micro endpoint calls its handler serially per subscription, and its
// stats time that call. Handing work to goroutines would make invocations
// overlap but leave `nats micro stats` timing only the hand-off. So each
// function gets Concurrency endpoints ("slots") on private subjects, each
// with its own subscription, and one dispatcher on the public subject that
// gives each request to a free slot. Invocations overlap up to Concurrency
// per replica, micro times every real invocation, and no request waits
// behind a busy slot while another is free. `nats micro info` therefore
// lists a function once per slot; `nats micro stats` totals add up.
package runtime
