package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"
)

// binding is one function served by one runtime: the queue subscription on
// its public subject, the capacity its invocations share, its middleware
// chain, its triggers and its figures.
type binding struct {
	rt       *Runtime
	service  string
	instance string
	fn       *Function
	subject  string
	metadata map[string]string // what `nats micro info` shows
	handler  Handler
	sub      *nats.Subscription
	// slots holds a token per invocation running, requests and events
	// alike: at most Concurrency at once in this replica.
	slots    chan struct{}
	running  atomic.Int64 // requests taken and not yet answered
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
		subject:  def.subject(fn),
		slots:    make(chan struct{}, n),
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
	if fn.Stats != nil {
		rt.metrics.exportStats(def.Name, fn.Name, fn.Stats)
	}
	mws := append([]Middleware{rt.metrics.instrument(def.Name, fn.Name), Logging(), Recover(), Timeout(timeout)}, fn.Middleware...)
	b.handler = chain(b.run, mws...)

	// One subscription in micro's queue group: the server gives each
	// request to one replica, once; within the replica it runs as soon as
	// a slot is free, whatever else is slow.
	sub, err := rt.nc.QueueSubscribe(b.subject, micro.DefaultQueueGroup, b.receive)
	if err != nil {
		return nil, fmt.Errorf("function %s: subscribe %s: %w", fn.Name, b.subject, err)
	}
	b.sub = sub
	return b, nil
}

// receive takes a request as soon as a slot is free and runs it on its own
// goroutine. While every slot is busy it waits, and the requests behind it
// wait in the subscription; the other replicas go on taking their share.
func (b *binding) receive(m *nats.Msg) {
	b.running.Add(1)
	b.slots <- struct{}{}
	go func() {
		defer func() {
			<-b.slots
			b.running.Add(-1)
		}()
		b.serve(m)
	}()
}

// serve runs one request and answers it, and counts it as micro would:
// the time of the invocation itself, and whether it answered an error.
func (b *binding) serve(m *nats.Msg) {
	started := time.Now()
	cid := SafeCorrelationID(m.Header.Get(HeaderCorrelationID))
	inputID := m.Header.Get(nats.MsgIdHdr)
	if inputID == "" {
		inputID = cid + "/" + NewCorrelationID()
	}
	out, err := b.invoke(call{cid: cid, header: m.Header, data: m.Data, inputID: inputID, attempt: 1, attempts: 1})

	reply := &nats.Msg{Header: nats.Header{HeaderCorrelationID: []string{cid}}, Data: out}
	var e *Error
	if err != nil {
		e = AsError(err)
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
	inputID  string // logical id of the input, for deterministic output ids
	attempt  int    // which delivery of an event; 1 for a request
	attempts int    // deliveries at most
}

// invoke runs one call through the middleware chain to the function, its
// outputs published before it returns.
func (b *binding) invoke(c call) ([]byte, error) {
	inv := &Invocation{
		Service: b.service, Function: b.fn.Name, Instance: b.instance, Subject: b.subject,
		CorrelationID: c.cid, Header: c.header, Data: c.data, Started: time.Now(),
	}
	st := &invocation{rt: b.rt, fn: b.fn, cid: c.cid, nc: b.rt.nc, base: &b.log, inputID: c.inputID,
		header: c.header, attempt: c.attempt, attempts: c.attempts}
	return b.handler(&invocationCtx{Context: b.rt.invokeCtx, st: st}, inv)
}

// run is the innermost handler: the function itself, then its events.
func (b *binding) run(ctx context.Context, inv *Invocation) ([]byte, error) {
	out, err := b.fn.terminal(ctx, inv)
	if err != nil {
		return nil, err
	}
	st := invocationOf(ctx)
	if b.fn.Result != "" {
		if err := Emit(ctx, b.fn.Result, json.RawMessage(out)); err != nil {
			return nil, err
		}
	}
	if err := b.publishOutbox(st); err != nil {
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
		"concurrency": cap(b.slots),
		"in_flight":   len(b.slots),
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
