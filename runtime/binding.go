package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"github.com/rs/zerolog"
)

// binding is one function served by one runtime: the queue subscription on
// its public subject and the readers that serve it, the workers that run
// its events, its middleware chain, its triggers and its figures.
type binding struct {
	rt       *Runtime
	service  string
	instance string
	fn       *Function
	subject  string
	metadata map[string]string // what `nats micro info` shows
	handler  handler
	sub      *nats.Subscription
	readers  sync.WaitGroup // the goroutines that take requests
	running  atomic.Int64   // requests being served
	workers  *workers       // run the function's events
	requests requestStats
	triggers []*trigger
	timeout  time.Duration
	log      zerolog.Logger
}

func (rt *Runtime) bind(svc *instance, def Service, fn *Function) (*binding, error) {
	n := fn.Concurrency
	if n == 0 {
		n = rt.cfg.Concurrency
	}
	timeout := fn.Timeout
	if timeout == 0 {
		timeout = rt.cfg.Timeout
	}
	b := &binding{
		rt:       rt,
		service:  def.Name,
		instance: svc.id,
		fn:       fn,
		subject:  def.Subject(fn),
		workers:  newWorkers(n),
		timeout:  timeout,
		log: rt.log.With().Str("service", def.Name).Str("function", fn.Name).
			Str("instance", svc.id).Logger(),
	}
	b.metadata = map[string]string{
		"concurrency":     strconv.Itoa(n),
		"request_schema":  string(fn.requestSchema),
		"response_schema": string(fn.responseSchema),
	}
	if fn.Description != "" {
		b.metadata["description"] = fn.Description
	}
	// What the function reacts to and touches, as declared: an operator
	// reads the saga's wiring off `nats micro info`.
	emits := fn.Emits
	if fn.Result != "" {
		emits = append([]string{fn.Result}, emits...)
	}
	for key, list := range map[string][]string{"triggers": fn.On, "emits": emits, "writes": fn.Writes, "calls": fn.Calls, "buckets": fn.Buckets} {
		if len(list) > 0 {
			b.metadata[key] = strings.Join(list, ", ")
		}
	}
	if fn.Schedule != "" {
		b.metadata["schedule"] = strings.TrimSpace(fn.Schedule + " " + fn.TimeZone)
	}
	if fn.Watch != "" {
		b.metadata["watch"] = strings.TrimPrefix(wire.WatchSubject(fn.Watch, fn.WatchKeys), "$KV.")
	}
	if fn.Stats != nil {
		rt.metrics.exportStats(def.Name, fn.Name, fn.Stats)
	}
	mws := []middleware{rt.metrics.instrument(def.Name, fn.Name), logging(), recovering(), withTimeout(timeout)}
	b.handler = chain(b.run, mws...)

	// One subscription in micro's queue group: the server gives each
	// request to one replica, once. Concurrency goroutines take requests
	// from it, each the next one as soon as it is free: nothing waits
	// behind a slow request while a reader is idle, and no goroutine sits
	// between the subscription and the function (see the package doc).
	sub, err := rt.nc.QueueSubscribeSync(b.subject, micro.DefaultQueueGroup)
	if err != nil {
		return nil, fmt.Errorf("function %s: subscribe %s: %w", fn.Name, b.subject, err)
	}
	if err := sub.SetPendingLimits(-1, 64<<20); err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	b.sub = sub
	for range n {
		b.readers.Go(b.read)
	}
	return b, nil
}

// read serves requests until the subscription is drained or closed.
func (b *binding) read() {
	for {
		m, err := b.sub.NextMsg(time.Hour)
		switch {
		case errors.Is(err, nats.ErrTimeout):
			continue
		case err != nil:
			return // drained, unsubscribed or closed
		}
		b.running.Add(1)
		b.serve(m)
		b.running.Add(-1)
	}
}

// serve runs one request and answers it, and counts it as micro would:
// the time of the invocation itself, and whether it answered an error.
func (b *binding) serve(m *nats.Msg) {
	started := time.Now()
	cid := wire.SafeCorrelationID(m.Header.Get(wire.HeaderCorrelationID))
	// A request's outputs get ids derived from its Nats-Msg-Id, so a caller
	// that resends with the same id emits nothing twice; without one, the
	// ids are fresh (made only if the function emits).
	out, err := b.invoke(call{cid: cid, header: m.Header, data: m.Data, inputID: m.Header.Get(nats.MsgIdHdr), attempt: 1, attempts: 1})

	reply := &nats.Msg{Header: nats.Header{wire.HeaderCorrelationID: []string{cid}}, Data: out}
	var e *Error
	if err != nil {
		e = wire.Classify(err)
		reply.Header[micro.ErrorHeader] = []string{e.Message}
		reply.Header[micro.ErrorCodeHeader] = []string{strconv.Itoa(e.Code)}
		reply.Data, _ = json.Marshal(e)
	}
	b.requests.record(time.Since(started), e)
	if m.Reply == "" {
		return // fire and forget: nobody to answer
	}
	if rerr := m.RespondMsg(reply); rerr != nil {
		b.log.Error().AnErr("cause", rerr).Str("correlation_id", cid).Msg("cannot send reply")
	}
}

// call is what starts an invocation, from a request or an event.
type call struct {
	cid      string
	header   nats.Header
	data     []byte
	inputID  string // logical id of the input, for deterministic output ids; "" for a fresh one
	attempt  int    // which delivery of an event; 1 for a request
	attempts int    // deliveries at most
	trigger  string // the subject of the event, key or tick; "" for a request
}

// invoke runs one call through the middleware chain to the function, its
// outputs published before it returns.
func (b *binding) invoke(c call) ([]byte, error) {
	// One allocation for what an invocation carries: its view for
	// middleware, its state and its context.
	f := &struct {
		inv rawCall
		st  invocation
		ctx invocationCtx
	}{
		inv: rawCall{Service: b.service, Function: b.fn.Name, Instance: b.instance, Subject: b.subject,
			CorrelationID: c.cid, Header: c.header, Data: c.data, Started: time.Now()},
		st: invocation{rt: b.rt, svc: b.service, fn: b.fn, cid: c.cid, nc: b.rt.nc, base: &b.log, inputID: c.inputID,
			header: c.header, attempt: c.attempt, attempts: c.attempts},
	}
	f.ctx = invocationCtx{Context: b.rt.invokeCtx, st: &f.st}
	if b.rt.tracer == nil {
		return b.handler(&f.ctx, &f.inv)
	}
	ctx, span := b.rt.startInvocation(b.rt.invokeCtx, b, &c)
	f.ctx.Context, f.st.traceID = ctx, span.SpanContext().TraceID().String()
	out, err := b.handler(&f.ctx, &f.inv)
	endSpan(span, err)
	return out, err
}

// run is the innermost handler: the function itself, then its events.
func (b *binding) run(ctx context.Context, inv *rawCall) ([]byte, error) {
	out, err := b.fn.terminal(ctx, inv)
	if err != nil {
		return nil, err
	}
	st := invocationOf(ctx)
	if b.fn.Result != "" {
		st.mu.Lock()
		st.outbox = append(st.outbox, pendingEvent{typ: b.fn.Result, data: out})
		st.mu.Unlock()
	}
	if err := b.publishOutbox(ctx, st); err != nil {
		return nil, err
	}
	crashPoint("outputs-published")
	return out, nil
}

// stats is the endpoint's data in `nats micro stats`: capacity, what runs
// now, the function's own figures and, for a function started by events,
// its event invocations (micro's columns count requests).
func (b *binding) stats() map[string]any {
	s := map[string]any{
		"concurrency": b.workers.max,
		"in_flight":   int(b.running.Load()) + b.workers.busy(),
	}
	if b.fn.Stats != nil {
		for k, v := range b.fn.Stats() {
			s[k] = v
		}
	}
	if len(b.triggers) > 0 {
		ts := map[string]any{}
		var ev eventTotals
		for _, t := range b.triggers {
			ts[t.subject] = t.stats()
			ev.add(t)
		}
		s["events"] = ev
		s["triggers"] = ts
	}
	return s
}

// drained reports whether the function takes no more requests and runs
// nothing. While NATS is unreachable no request can arrive, so an idle
// function suffices.
func (b *binding) drained() bool {
	for _, t := range b.triggers {
		if !t.idle() {
			return false
		}
	}
	return b.running.Load() == 0 && (!b.sub.IsValid() || !b.rt.nc.IsConnected())
}
