package natsfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"go.opentelemetry.io/otel/trace"
)

type pendingEvent struct {
	typ  string
	data []byte
	id   string
}

// Emit queues an event of eventType (also its subject, e.g.
// "inventory.reserved.v1") with payload as JSON data. id is the event's
// logical id (its ce-id), e.g. an order id, so the same business fact gets
// the same id wherever it is emitted; "" derives one from the input. The runtime publishes
// queued events to JetStream after the function returns without error and
// before the input is acknowledged or answered, each with CloudEvents
// headers, the correlation id, the input's traceparent, and a Nats-Msg-Id
// derived from the input, so a redelivered input cannot emit twice.
// Emitting "x.v1" and "x.v2" in one invocation dual-publishes one logical
// event: both copies share a ce-id.
func Emit(ctx context.Context, eventType, id string, payload any) error {
	ev, err := newEvent("emit", eventType, id, payload)
	if err != nil {
		return err
	}
	st := invocationOf(ctx)
	if st == nil {
		return fmt.Errorf("emit %s: not inside a function", eventType)
	}
	if !st.fn.mayEmit(eventType) {
		return configError("function %s emits %s, which is not in its FuncConfig.Emits", st.fn.Name, eventType)
	}
	st.mu.Lock()
	st.outbox = append(st.outbox, ev)
	st.mu.Unlock()
	return nil
}

// newEvent encodes an event about to be emitted or scheduled (what says
// which, in errors).
func newEvent(what, eventType, id string, payload any) (pendingEvent, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return pendingEvent{}, fmt.Errorf("%s %s: %w", what, eventType, err)
	}
	return pendingEvent{typ: eventType, data: data, id: id}, nil
}

// publishOutbox publishes an invocation's events at once and waits for
// every PubAck. A failure is transient: the input is retried and the events
// that did get through are dropped as duplicates on the next attempt.
func (b *binding) publishOutbox(ctx context.Context, st *invocation) error {
	st.mu.Lock()
	outbox, ahead := st.outbox, st.ahead
	st.outbox, st.ahead = nil, nil
	st.mu.Unlock()
	if err := awaitAcks(ctx, ahead); err != nil {
		return err
	}
	if len(outbox) == 0 {
		return nil
	}
	// Bounded by the invocation's own deadline: a publish that hangs past
	// it is a timed-out invocation, retried like one.
	source := "natsfn/" + b.service + "/" + b.fn.Name
	traceparent := st.header.Get(wire.HeaderTraceParent)
	for i := range outbox {
		if outbox[i].id == "" {
			outbox[i].id = st.nextEventID(outbox[i].typ)
		}
	}
	if len(outbox) == 1 {
		// One event: a plain publish, without the async machinery.
		return b.rt.publishEvent(ctx, source, outbox[0], st.cid, traceparent)
	}
	// Traced, each event is a producer span whose context it carries as its
	// traceparent, so the step it triggers is that span's child.
	var spans []trace.Span
	acks := make([]jetstream.PubAckFuture, 0, len(outbox))
	for _, ev := range outbox {
		msg := eventMsg(source, ev, st.cid, traceparent)
		if _, span := wire.ChildSpan(ctx, "publish "+ev.typ, trace.SpanKindProducer, ev.typ, msg.Header); span != nil {
			spans = append(spans, span)
		}
		ack, err := b.rt.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.id+"|"+ev.typ))
		if err != nil {
			endSpans(spans, err)
			return publishError(ev.typ, err)
		}
		acks = append(acks, ack)
	}
	err := awaitAcks(ctx, acks)
	endSpans(spans, err)
	return err
}

func endSpans(spans []trace.Span, err error) {
	for _, span := range spans {
		endSpan(span, err)
	}
}

// awaitAcks waits for every PubAck of messages published asynchronously.
func awaitAcks(ctx context.Context, acks []jetstream.PubAckFuture) error {
	for _, ack := range acks {
		select {
		case <-ack.Ok():
		case err := <-ack.Err():
			return publishError(ack.Msg().Subject, err)
		case <-ctx.Done():
			return publishError(ack.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

// publishEvent stores one event with its CloudEvents envelope and waits for
// the PubAck. Its Nats-Msg-Id is the logical id plus the versioned type, so
// the v1 and v2 copies of one event are both kept and a repeat of either is
// dropped.
func (rt *Runtime) publishEvent(ctx context.Context, source string, ev pendingEvent, cid, traceparent string) error {
	msg := eventMsg(source, ev, cid, traceparent)
	_, span := wire.ChildSpan(ctx, "publish "+ev.typ, trace.SpanKindProducer, ev.typ, msg.Header)
	ack, err := rt.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.id+"|"+ev.typ))
	if span != nil {
		endSpan(span, err)
	}
	if err != nil {
		return publishError(ev.typ, err)
	}
	rt.log.Debug().Str("correlation_id", cid).Str("event", ev.typ).Str("event_id", ev.id).Str("stream", ack.Stream).
		Uint64("seq", ack.Sequence).Bool("duplicate", ack.Duplicate).Msg("event stored")
	return nil
}

// eventMsg is an event with its CloudEvents envelope, correlation id and
// trace context.
func eventMsg(source string, ev pendingEvent, cid, traceparent string) *nats.Msg {
	msg := nats.NewMsg(ev.typ)
	msg.Data = ev.data
	envelope{ID: ev.id, Source: source, Type: ev.typ, Time: time.Now()}.stamp(msg.Header)
	if cid != "" {
		msg.Header.Set(wire.HeaderCorrelationID, cid)
	}
	if traceparent != "" {
		msg.Header.Set(wire.HeaderTraceParent, traceparent)
	}
	return msg
}

func publishError(subject string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return Unavailable("publish %s: no stream captures this subject; declare it in the service's Streams", subject)
	}
	return Unavailable("publish %s: %v", subject, err)
}

// derivedID is the deterministic logical id of the n-th event of one base
// type emitted by a function for one input.
func derivedID(service, function, inputID, base string, n int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s|%s|%s|%d", service, function, inputID, base, n))
	return hex.EncodeToString(sum[:16])
}
