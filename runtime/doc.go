// Package natsfn serves typed Go functions as NATS services.
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
// Functions are grouped into a Service (one service, one instance per
// replica in `nats micro ls`) and run by a Runtime, which adds what every
// service would otherwise write by hand: connecting with backoff and
// reconnecting forever, a correlation id carried through headers, context
// and logs (zerolog), metrics (VictoriaMetrics, Prometheus format), an admin
// server with /healthz, /readyz and /metrics, per-invocation timeouts,
// panic recovery, and a graceful shutdown that lets in-flight invocations
// finish.
//
// # Where things are
//
// A function is triggered by a NATS request on its subject (FuncConfig.Subject,
// default "<service>.<function>"), by the JetStream events it lists in
// FuncConfig.On, by a Schedule kept in NATS (schedule.go) and by the
// changes of a bucket it Watches (watch.go, input Change[T]); the last
// three are durable consumers shared by replicas (trigger.go). All go
// through the same path: validate, run, publish what it emitted, answer or
// acknowledge. With a tracer provider (Config.TracerProvider or the OTEL_*
// environment) each invocation and each message it sends is a span, and
// one order's saga one trace (tracing.go). Retries happen in one place: a failed event whose error is
// transient (503, 504, or an error of NATS itself) is redelivered with
// backoff (EventsConfig.RetryMin/RetryMax) up to MaxDeliver times, then set
// aside in the dead-letter stream with its reason; a 4xx goes there at
// once. A request is not retried: its caller decides.
//
// Inside a function: Emit (events, published after it returns), Call
// (another function), Put/Record (records kept in a stream),
// Schedule/PurgeSchedule (an event the server publishes later), KV and the
// key helpers (PutKey, DeleteKey, ReadKey, GetJSON, LockKeys),
// Logger, CorrelationID, Header, LastAttempt. Outside one: package client
// calls functions, package deadletter reads and replays dead letters,
// package natsauth derives each service's NATS permissions.
//
// # Dependencies are declared
//
// A function reaches what it uses through its context (KV(ctx, bucket),
// Emit, Call, Put), and declares it in its FuncConfig: the buckets it
// uses, the events it emits, the records it writes, the subjects it
// calls. The other way considered was to hand the function its
// dependencies as values (a bucket handle in a closure, or outputs
// returned as values as Watermill handlers do). It was not taken: the
// handles exist only once a Runtime has connected, so a function would be
// built in two phases (declare, then bind), and one Function could not be
// served by two Runtimes in one process, as tests and `natsfn local` do.
// The declarations keep the function a plain func(ctx, In) (Out, error)
// that any test can call, and they give the runtime what it needs to check
// early: New refuses a function whose declared bucket its service does not
// own, or whose events and records no stream of its service keeps (each
// error wraps ErrConfig), and a use that was not declared fails with an
// ErrConfig error naming the missing declaration instead of reaching an
// undeclared subject. `natsfn nats-config` grants each service exactly what
// its functions declare.
//
// # The name
//
// The folder is runtime/, the package natsfn. Named runtime, it shadowed
// the standard library's runtime in every file that imported it (a test
// that reads runtime.MemStats had to alias one of them), and "runtime.Func"
// did not say whose. natsfn.Func, natsfn.Emit, natsfn.Service read as what
// they are in the code of a function author, who imports only this
// package.
//
// # Concurrency and honest stats
//
// Each function runs up to Concurrency invocations at once per replica, and
// `nats micro stats` times each real invocation. How requests reach those
// invocations was measured, same server, 16 callers, trivial handlers,
// throughput against the previous design (BenchmarkConcurrencyDesigns, N=8,
// three runs; BENCHMARKS.md):
//
//	                 dispatcher   lanes         readers (chosen)
//	no work             1.00x     1.39x         1.33x
//	wait 1 ms           1.00x     0.80-0.81x    0.94-1.10x
//	10% wait 50 ms      1.00x     0.44-0.47x    0.94-1.05x
//	  p99               57-79 ms  104-151 ms    56-91 ms
//
// The three designs:
//
//   - dispatcher (the previous design): a subscription on the public
//     subject handed each request to a free micro endpoint on a private
//     subject by publishing it again, so every request crossed the server
//     twice, on a second connection, and `nats micro info` listed private
//     subjects.
//   - lanes: N micro endpoints on the public subject in one queue group.
//     micro runs one handler at a time per subscription and the server
//     picks a lane at random, so a request waits behind a slow one while
//     another lane is idle: with mixed latencies it serves under half.
//   - readers: one queue subscription per function on the public subject,
//     in micro's queue group "q"; Concurrency goroutines each take the next
//     request from it (a synchronous subscription's NextMsg) as soon as
//     they are free. A request is received once, waits only when every
//     reader is busy, and nothing stands between the subscription and the
//     function.
//
// micro's dispatch cannot be concurrent and honest at once (its stats time
// the handler call, and a handler that hands work off reports the hand-off),
// so the runtime answers the NATS service protocol itself (discovery.go):
// PING, INFO and STATS on $SRV.<verb>[.<name>[.<id>]], in micro's own types,
// so every micro tool sees one endpoint per function with the subject to
// call, its queue group, its schemas, and stats timed around each real
// invocation. A request-reply call and an event are both invocations, but
// micro's columns count requests: a function's event invocations (count,
// errors, processing time) are in its endpoint's data, under "events", and
// in /metrics.
//
// Events run in this process too: each trigger's durable consumer pulls at
// most twice Concurrency events, and long-lived workers (goroutines that
// keep the stack they grew) run them through the same middleware chain.
// An Idempotent function's step costs its output publishes and one ack.
package natsfn
