package natsfn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"github.com/rs/zerolog"
)

// trigger binds a function to one event subject: a durable pull consumer
// shared by every replica, and the loop that runs each event through the
// function's middleware chain in this process, as many at once as the
// function's Concurrency allows (the consumer pulls no more than that).
type trigger struct {
	b       *binding
	subject string
	// input turns a delivered message into the function's input; nil
	// passes an event's data as it is.
	input   func(jetstream.Msg, *jetstream.MsgMetadata) ([]byte, error)
	stream  string
	durable string
	cons    jetstream.Consumer
	log     zerolog.Logger
	counts  triggerCounts
	pending *metrics.Gauge

	iter     jetstream.MessagesContext
	stopping atomic.Bool
	stop     context.CancelFunc
	stopCtx  context.Context
	inFlight atomic.Int64  // events taken and not yet settled
	lives    sync.Map      // *live -> struct{}: events running, for keepAlive
	loopDone chan struct{} // closed when the consumer loop has ended
}

// triggerCounts are the event-specific counters, in /metrics and in the
// endpoint's `nats micro stats` data.
type triggerCounts struct {
	delivered, redelivered, acked, retried, deadLettered, duplicates, deferred *metrics.Counter
	// invocations, errors and their processing time, as micro counts
	// requests: what `nats micro stats` shows of events.
	invocations, errors, processingNanos atomic.Int64
}

// eventTotals adds up a function's triggers for `nats micro stats`.
type eventTotals struct {
	Invocations           int64         `json:"num_invocations"`
	Errors                int64         `json:"num_errors"`
	ProcessingTime        time.Duration `json:"processing_time"`
	AverageProcessingTime time.Duration `json:"average_processing_time"`
}

func (e *eventTotals) add(t *trigger) {
	e.Invocations += t.counts.invocations.Load()
	e.Errors += t.counts.errors.Load()
	e.ProcessingTime += time.Duration(t.counts.processingNanos.Load())
	if e.Invocations > 0 {
		e.AverageProcessingTime = e.ProcessingTime / time.Duration(e.Invocations)
	}
}

// triggerSpec is one source of a function's invocations besides requests:
// an event subject (FuncConfig.On), a bucket's keys (Watch), its ticks
// (Schedule). All three are durable consumers, run the same way.
type triggerSpec struct {
	subject string
	input   func(jetstream.Msg, *jetstream.MsgMetadata) ([]byte, error)
}

func (f *Function) triggers(service string) []triggerSpec {
	var out []triggerSpec
	for _, on := range f.On {
		out = append(out, triggerSpec{subject: on})
	}
	if f.Watch != "" {
		out = append(out, triggerSpec{wire.WatchSubject(f.Watch, f.WatchKeys), changeInput})
	}
	if f.Schedule != "" {
		_, tick := wire.ScheduleSubjects(service, f.Name)
		out = append(out, triggerSpec{tick, tickInput})
	}
	return out
}

// newTrigger prepares a trigger; declare creates its consumer.
func (rt *Runtime) newTrigger(b *binding, subject string) *trigger {
	t := &trigger{b: b, subject: subject, durable: wire.DurableName(b.service, b.fn.Name, subject)}
	t.log = b.log.With().Str("trigger", subject).Str("consumer", t.durable).Logger()
	labels := fmt.Sprintf(`service=%q,function=%q,trigger=%q`, b.service, b.fn.Name, subject)
	c := func(result string) *metrics.Counter {
		return rt.metrics.set.GetOrCreateCounter(fmt.Sprintf(`natsfn_events_total{%s,result=%q}`, labels, result))
	}
	t.counts = triggerCounts{
		delivered: c("delivered"), redelivered: c("redelivered"), acked: c("acked"), retried: c("retried"),
		deadLettered: c("dead_lettered"), duplicates: c("duplicate"), deferred: c("deferred"),
	}
	t.pending = rt.metrics.set.GetOrCreateGauge("natsfn_consumer_pending{"+labels+"}", nil)
	for _, class := range []string{wire.ClassPermanent, wire.ClassExhausted, wire.ClassCrashed} {
		rt.metrics.deadLetters(b.service, b.fn.Name, class) // exported as 0 from the start, not absent
	}
	t.stopCtx, t.stop = context.WithCancel(rt.invokeCtx)
	return t
}

// declare finds the stream that captures the trigger's subject and creates
// or updates the durable consumer on it. A missing stream is waited for:
// another service may declare it and not be up yet.
func (t *trigger) declare(ctx context.Context) error {
	b, ev := t.b, t.b.rt.cfg.Events
	stream, err := b.rt.js.StreamNameBySubject(ctx, t.subject)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("no stream captures %s yet: declare one in Service.Streams, or start the service that does: %w", t.subject, err)
	}
	if err != nil {
		return err
	}
	cons, err := b.rt.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       t.durable,
		Description:   fmt.Sprintf("natsfn: %s/%s on %s", b.service, b.fn.Name, t.subject),
		FilterSubject: t.subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ev.AckWait,
		MaxDeliver:    ev.MaxDeliver,
		MaxAckPending: ev.MaxAckPending,
		Metadata: map[string]string{
			metaService: b.service, metaFunction: b.fn.Name, metaTrigger: t.subject,
		},
	})
	if err != nil {
		return err
	}
	t.stream, t.cons = stream, cons
	return nil
}

// Consumer metadata keys: the advisory watcher reads them to know whose
// event ran out of deliveries.
const (
	metaService  = "natsfn_service"
	metaFunction = "natsfn_function"
	metaTrigger  = "natsfn_trigger"
)

func (t *trigger) start() error {
	it, err := t.cons.Messages(jetstream.PullMaxMessages(2 * t.b.workers.max))
	if err != nil {
		return fmt.Errorf("consume %s: %w", t.durable, err)
	}
	t.iter = it
	t.loopDone = make(chan struct{})
	go t.loop()
	go t.watchPending()
	go t.keepAlive()
	return nil
}

func (t *trigger) loop() {
	defer close(t.loopDone)
	for {
		msg, err := t.iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			t.log.Warn().AnErr("cause", err).Msg("consumer hiccup; continuing")
			continue
		}
		if t.stopping.Load() {
			_ = msg.Nak() // not started: leave it to another replica, now
			continue
		}
		t.inFlight.Add(1)
		t.b.workers.run(func() {
			defer t.inFlight.Add(-1)
			if t.stopping.Load() {
				_ = msg.Nak() // waited for a worker while the replica began to stop
				return
			}
			t.process(msg)
		})
	}
}

// drain stops taking events: buffered ones go back at once, running ones
// finish and are acknowledged.
func (t *trigger) drain() {
	t.stopping.Store(true)
	t.stop()
	if t.iter == nil {
		return
	}
	if t.b.rt.nc.IsConnected() {
		t.iter.Drain()
	} else {
		t.iter.Stop() // nothing to hand back without a server; JetStream redelivers
	}
}

// idle reports whether the consumer loop has ended and no event is in flight.
func (t *trigger) idle() bool {
	select {
	case <-t.loopDone:
		return t.inFlight.Load() == 0
	default:
		return false
	}
}

// process runs one event and settles it: ack on success, backoff and retry
// on a transient failure, dead letter on a permanent one or on the last
// delivery.
func (t *trigger) process(msg jetstream.Msg) {
	rt, ev := t.b.rt, t.b.rt.cfg.Events
	meta, err := msg.Metadata()
	if err != nil {
		t.log.Error().AnErr("cause", err).Msg("event without JetStream metadata")
		return
	}
	t.counts.delivered.Inc()
	if meta.NumDelivered > 1 {
		t.counts.redelivered.Inc()
	}

	logicalID := fmt.Sprintf("%s:%d", meta.Stream, meta.Sequence.Stream)
	envelope, cerr := parseEvent(msg.Headers())
	switch {
	case cerr == nil:
		logicalID = envelope.ID
	case !errors.Is(cerr, errNotCloudEvent):
		t.deadLetter(msg, meta, wire.ClassPermanent, "invalid CloudEvents headers: "+cerr.Error())
		return
	}

	data := msg.Data()
	if t.input != nil {
		if data, err = t.input(msg, meta); err != nil {
			t.deadLetter(msg, meta, wire.ClassPermanent, "cannot read: "+err.Error())
			return
		}
	}

	// An idempotent function runs without a claim (key stays empty).
	c := &live{msg: msg}
	if !t.b.fn.Idempotent {
		c.key = claimKey(t.b.service, t.b.fn.Name, logicalID)
		state, rev, wait, err := t.claim(msg, c.key)
		if !t.claimed(msg, meta, state, wait, err) {
			return
		}
		c.rev.Store(rev)
	}

	crashPoint("event-started")
	stop := t.running(c)
	started := time.Now()
	_, ierr := t.b.invoke(call{
		cid: wire.SafeCorrelationID(msg.Headers().Get(wire.HeaderCorrelationID)), header: msg.Headers(), data: data,
		inputID: logicalID, attempt: int(meta.NumDelivered), attempts: ev.MaxDeliver, trigger: msg.Subject(),
	})
	stop()
	t.counts.invocations.Add(1)
	t.counts.processingNanos.Add(int64(time.Since(started)))

	if ierr == nil {
		if c.key != "" {
			ctx, cancel := context.WithTimeout(rt.invokeCtx, 10*time.Second)
			err := rt.claims.finish(ctx, c.key, c.revision())
			cancel()
			if err != nil {
				t.eventLog(meta).Warn().AnErr("cause", err).Msg("cannot mark event done; a redelivery will run it again")
			}
		}
		t.counts.acked.Inc() // counted first: once acked, an observer may look
		_ = msg.Ack()
		return
	}
	t.counts.errors.Add(1)
	e := wire.Classify(ierr)
	t.releaseClaim(c.key, c.revision())
	switch {
	case e.Code >= 400 && e.Code < 500:
		t.deadLetter(msg, meta, wire.ClassPermanent, e.Error())
	case meta.NumDelivered >= uint64(ev.MaxDeliver):
		t.deadLetter(msg, meta, wire.ClassExhausted, e.Error())
	default:
		t.retry(msg, meta, e.Error())
	}
}

// live is an event while its function runs: its message, and its claim,
// whose revision keepAlive moves on.
type live struct {
	msg jetstream.Msg
	key string
	rev atomic.Uint64
	mu  sync.Mutex // held by a beat under way
}

func (l *live) revision() uint64 { return l.rev.Load() }

// keepAlive tells JetStream, every third of AckWait, that each event still
// running is being worked on, and keeps its claim fresh: long work is not
// redelivered under itself, nor taken over as a dead replica's. One ticker
// per trigger rather than a timer per event.
func (t *trigger) keepAlive() {
	rt := t.b.rt
	tick := time.NewTicker(rt.cfg.Events.AckWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-t.stopCtx.Done():
			return
		case <-tick.C:
		}
		t.lives.Range(func(k, _ any) bool {
			l := k.(*live)
			l.mu.Lock()
			_ = l.msg.InProgress()
			if l.key != "" {
				ctx, cancel := context.WithTimeout(rt.invokeCtx, 5*time.Second)
				if rev, err := rt.claims.refresh(ctx, l.key, l.revision()); err == nil {
					l.rev.Store(rev)
				}
				cancel()
			}
			l.mu.Unlock()
			return true
		})
	}
}

// running registers an event for keepAlive; done removes it, waiting for a
// beat under way, so the claim's revision is final.
func (t *trigger) running(l *live) (done func()) {
	t.lives.Store(l, struct{}{})
	return func() {
		t.lives.Delete(l)
		l.mu.Lock() // a beat under way ends first
		defer l.mu.Unlock()
	}
}

// claimed settles an event whose claim was not ours to take (an error, a
// finished duplicate, a busy holder) and reports whether to go ahead.
func (t *trigger) claimed(msg jetstream.Msg, meta *jetstream.MsgMetadata, state claimState, wait time.Duration, err error) bool {
	switch {
	case err != nil:
		t.eventLog(meta).Warn().AnErr("cause", err).Msg("cannot claim event; retrying")
		t.retry(msg, meta, "claim: "+err.Error())
		return false
	case state == claimFinished:
		t.counts.duplicates.Inc()
		_ = msg.Ack()
		return false
	case state == claimBusy:
		t.counts.deferred.Inc()
		_ = msg.NakWithDelay(max(wait, 10*time.Millisecond))
		return false
	}
	return true
}

// releaseClaim gives up a claim after a failure, so that a retry may take it.
func (t *trigger) releaseClaim(key string, rev uint64) {
	if key != "" {
		ctx, cancel := context.WithTimeout(t.b.rt.invokeCtx, 10*time.Second)
		defer cancel()
		_ = t.b.rt.claims.release(ctx, key, rev)
	}
}

// claim takes the event's claim. While another holder has it (a replica at
// work on the other copy of the event, or one that died, whose claim goes
// stale after AckWait), it waits within this delivery, keeping the
// delivery alive, rather than spending deliveries on Naks: a Nak counts
// toward MaxDeliver, and a run of them would dead-letter a healthy event.
func (t *trigger) claim(msg jetstream.Msg, key string) (claimState, uint64, time.Duration, error) {
	rt := t.b.rt
	deadline := time.Now().Add(2 * rt.cfg.Events.AckWait)
	for {
		ctx, cancel := context.WithTimeout(rt.invokeCtx, 10*time.Second)
		state, rev, wait, err := rt.claims.claim(ctx, key)
		cancel()
		if err != nil || state != claimBusy || time.Now().After(deadline) {
			return state, rev, wait, err
		}
		t.counts.deferred.Inc()
		_ = msg.InProgress()
		select {
		case <-time.After(min(max(wait, 10*time.Millisecond), rt.cfg.Events.AckWait/3)):
		case <-t.stopCtx.Done():
			return claimBusy, 0, wait, nil
		}
	}
}

// eventLog is the trigger's logger with the event's position, built only
// when there is something to say.
func (t *trigger) eventLog(meta *jetstream.MsgMetadata) *zerolog.Logger {
	l := t.log.With().Uint64("stream_seq", meta.Sequence.Stream).Uint64("delivery", meta.NumDelivered).Logger()
	return &l
}

func (t *trigger) retry(msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string) {
	log := t.eventLog(meta)
	delay := t.b.rt.cfg.Events.retryDelay(meta.NumDelivered)
	log.Warn().Str("reason", reason).Dur("retry_in", delay).Msg("event failed; will retry")
	t.counts.retried.Inc()
	_ = msg.NakWithDelay(delay)
}

func (t *trigger) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, class, reason string) {
	log := t.eventLog(meta)
	d := wire.DeadLetter{
		Subject: msg.Subject(), Stream: meta.Stream, Sequence: meta.Sequence.Stream,
		Service: t.b.service, Function: t.b.fn.Name, Error: reason, Class: class,
		Deliveries: int(meta.NumDelivered), Time: time.Now(), Header: msg.Headers(), Data: msg.Data(),
	}
	if err := t.b.rt.storeDeadLetter(d); err != nil {
		log.Error().AnErr("cause", err).Msg("cannot store dead letter; leaving the event for redelivery")
		_ = msg.NakWithDelay(t.b.rt.cfg.Events.RetryMax)
		return
	}
	t.counts.deadLettered.Inc()
	log.Error().Str("class", class).Str("reason", reason).Msg("event dead-lettered")
	_ = msg.TermWithReason(class + ": " + reason)
}

// watchPending refreshes the consumer's backlog for metrics and stats.
func (t *trigger) watchPending() {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(t.stopCtx, 5*time.Second)
		if info, err := t.cons.Info(ctx); err == nil {
			t.pending.Set(float64(info.NumPending))
		}
		cancel()
		select {
		case <-t.stopCtx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *trigger) stats() map[string]any {
	return map[string]any{
		"consumer":      t.durable,
		"stream":        t.stream,
		"delivered":     t.counts.delivered.Get(),
		"redelivered":   t.counts.redelivered.Get(),
		"acked":         t.counts.acked.Get(),
		"retried":       t.counts.retried.Get(),
		"dead_lettered": t.counts.deadLettered.Get(),
		"duplicates":    t.counts.duplicates.Get(),
		"pending":       t.pending.Get(),
	}
}
