package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"
)

// binding is one function served by one micro service instance: its
// dispatcher, its slots and its middleware chain.
type binding struct {
	rt       *Runtime
	service  string
	instance string
	fn       *Function
	subject  string
	handler  Handler
	slots    *slots
	subjects []string // slot subjects, by slot index
	sub      *nats.Subscription
	triggers []*trigger
	timeout  time.Duration
	log      zerolog.Logger
}

// slotSubject is private to one instance; `natsfn nats-config` allows it.
func slotSubject(service, instance, function string, slot int) string {
	return fmt.Sprintf("_NATSFN.%s.%s.%s.%d", service, instance, function, slot)
}

func (rt *Runtime) bind(svc micro.Service, def Service, fn *Function) (*binding, error) {
	info := svc.Info()
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
		instance: info.ID,
		fn:       fn,
		subject:  def.subject(fn),
		slots:    newSlots(n),
		timeout:  timeout,
		log: rt.log.With().Str("service", def.Name).Str("function", fn.Name).
			Str("instance", info.ID).Logger(),
	}
	if fn.Stats != nil {
		rt.metrics.exportStats(def.Name, fn.Name, fn.Stats)
	}
	mws := append([]Middleware{rt.metrics.instrument(def.Name, fn.Name), Logging(), Recover(), Timeout(timeout)}, fn.Middleware...)
	b.handler = chain(b.run, mws...)

	meta := map[string]string{
		"subject":         b.subject,
		"concurrency":     strconv.Itoa(n),
		"request_schema":  string(fn.requestSchema),
		"response_schema": string(fn.responseSchema),
	}
	if fn.Description != "" {
		meta["description"] = fn.Description
	}
	for i := range n {
		subj := slotSubject(def.Name, info.ID, fn.Name, i)
		b.subjects = append(b.subjects, subj)
		err := svc.AddEndpoint(fn.Name, b.serve(i),
			micro.WithEndpointSubject(subj),
			micro.WithEndpointQueueGroupDisabled(),
			micro.WithEndpointMetadata(meta))
		if err != nil {
			return nil, fmt.Errorf("function %s: add endpoint: %w", fn.Name, err)
		}
	}
	sub, err := rt.dc.QueueSubscribe(b.subject, micro.DefaultQueueGroup, b.dispatch)
	if err != nil {
		return nil, fmt.Errorf("function %s: subscribe %s: %w", fn.Name, b.subject, err)
	}
	b.sub = sub
	return b, nil
}

// dispatch hands a request to a free slot, keeping its reply subject so the
// slot answers the caller directly.
func (b *binding) dispatch(m *nats.Msg) {
	i, ok := b.slots.acquire(b.rt.hardStop)
	if !ok {
		b.log.Warn().Msg("request dropped: shutdown deadline passed before a slot was free")
		return
	}
	fwd := &nats.Msg{Subject: b.subjects[i], Reply: m.Reply, Header: m.Header, Data: m.Data}
	if err := b.rt.dc.PublishMsg(fwd); err != nil {
		b.slots.release(i)
		b.log.Error().AnErr("cause", err).Msg("cannot hand request to a slot")
	}
}

// serve is the micro handler of one slot: it runs the invocation to the
// end, so micro's stats time the real work.
func (b *binding) serve(slot int) micro.HandlerFunc {
	return func(req micro.Request) {
		if b.slots.start(slot) {
			defer b.slots.finish(slot)
		}
		b.invoke(req)
	}
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

func (b *binding) invoke(req micro.Request) {
	hdr := nats.Header(req.Headers())
	cid := SafeCorrelationID(hdr.Get(HeaderCorrelationID))
	inputID := hdr.Get(headerInputID)
	if inputID != "" {
		crashPoint("event-started")
	} else if inputID = hdr.Get(nats.MsgIdHdr); inputID == "" {
		inputID = cid + "/" + NewCorrelationID()
	}
	inv := &Invocation{
		Service: b.service, Function: b.fn.Name, Instance: b.instance, Subject: b.subject,
		CorrelationID: cid, Header: hdr, Data: req.Data(), Started: time.Now(),
	}
	st := &invocation{rt: b.rt, fn: b.fn, cid: cid, nc: b.rt.nc, base: &b.log, inputID: inputID, header: hdr}
	ctx := &invocationCtx{Context: b.rt.invokeCtx, st: st}
	out, err := b.handler(ctx, inv)

	opts := func(m *nats.Msg) {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header[HeaderCorrelationID] = []string{cid}
	}
	if err == nil {
		if req.Reply() == "" {
			return // fire and forget: nobody to answer
		}
		if rerr := req.Respond(out, opts); rerr != nil {
			st.log().Error().AnErr("cause", rerr).Msg("cannot send reply")
		}
		return
	}
	e := AsError(err)
	body, _ := json.Marshal(e)
	if rerr := req.Error(strconv.Itoa(e.Code), e.Message, body, opts); rerr != nil && req.Reply() != "" {
		st.log().Error().AnErr("cause", rerr).Msg("cannot send error reply")
	}
}

// stats is the endpoint-specific part of `nats micro stats`.
func (b *binding) stats() any {
	s := map[string]any{
		"subject":     b.subject,
		"concurrency": cap(b.slots.free),
		"in_flight":   b.slots.running(),
	}
	if b.fn.Stats != nil {
		for k, v := range b.fn.Stats() {
			s[k] = v
		}
	}
	if len(b.triggers) > 0 {
		ts := map[string]any{}
		for _, t := range b.triggers {
			ts[t.subject] = t.stats()
		}
		s["triggers"] = ts
	}
	return s
}

// drained reports whether the dispatcher has stopped and every slot is free.
// While NATS is unreachable no new request can arrive, so idle slots suffice.
func (b *binding) drained() bool {
	for _, t := range b.triggers {
		if !t.idle() {
			return false
		}
	}
	return b.slots.idle() && (!b.sub.IsValid() || !b.rt.dc.IsConnected())
}
