package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// A Batch writes several messages to one stream atomically: the server
// stores all of them or none (nats-server atomic batch publish, through
// orbit.go's jetstreamext). A step that changes a record and announces it,
// or takes stock and records for whom, does both in one batch, so no crash
// can leave one without the other, and pays one round trip.
//
// What a batch holds:
//   - Put: a record, the latest value of a subject of the stream, compared
//     and set on the subject's sequence, kept forever (whatever the
//     stream's MaxAge) and replacing the value before it;
//   - PutKey and DeleteKey: a key of a bucket (the batch then goes to the
//     bucket's stream), compared and set on its revision; a deleted key's
//     marker may be kept for a while, then it is gone;
//   - Emit: an event, with the envelope, correlation id and derived id of
//     runtime.Emit;
//   - Schedule: an event the server publishes at a given time, unless its
//     subject is purged first (PurgeSchedule).
//
// A compare-and-set that fails fails the whole batch; IsConflict reports
// it.
type Batch struct {
	ctx  context.Context
	rt   *Runtime
	st   *invocation // nil in a job
	msgs []*nats.Msg
	err  error
}

// Headers of records and keys in a batch.
const (
	headerExpectSeq = "Nats-Expected-Last-Subject-Sequence"
	headerRollup    = "Nats-Rollup"
	headerTTL       = "Nats-TTL"
	headerKVOp      = "KV-Operation"
	// HeaderReason says why a key was deleted, on its marker.
	HeaderReason = "Natsfn-Reason"
)

// NewBatch starts a batch inside a function or job.
func NewBatch(ctx context.Context) *Batch {
	b := &Batch{ctx: ctx, st: invocationOf(ctx)}
	if b.st != nil {
		b.rt = b.st.rt
	} else if rt, ok := ctx.Value(runtimeKey).(*Runtime); ok {
		b.rt = rt
	} else {
		b.err = errors.New("batch: not inside a function or job")
	}
	return b
}

func (b *Batch) add(subject string, v any, header nats.Header) {
	if b.err != nil {
		return
	}
	m := &nats.Msg{Subject: subject, Header: header}
	if v != nil {
		data, err := json.Marshal(v)
		if err != nil {
			b.err = fmt.Errorf("batch: %s: %w", subject, err)
			return
		}
		m.Data = data
	}
	b.msgs = append(b.msgs, m)
}

// Put adds a record: v as the value of subject, if the subject's last
// sequence is still expect (0: the subject holds nothing yet).
func (b *Batch) Put(subject string, v any, expect uint64) {
	b.add(subject, v, nats.Header{
		headerExpectSeq: {strconv.FormatUint(expect, 10)},
		headerRollup:    {"sub"},
		headerTTL:       {"never"},
	})
}

// PutKey adds v as the value of key in kv, if the key's revision is still
// expect (0: the key holds nothing, not even a delete marker).
func (b *Batch) PutKey(kv jetstream.KeyValue, key string, v any, expect uint64) {
	b.add(keySubject(kv, key), v, nats.Header{headerExpectSeq: {strconv.FormatUint(expect, 10)}})
}

// DeleteKey adds the deletion of key in kv, if its revision is still
// expect. The delete marker, which says why, is kept for keep (then the key
// is gone for good); while it is there, PutKey with expect 0 fails.
func (b *Batch) DeleteKey(kv jetstream.KeyValue, key string, expect uint64, keep time.Duration, reason string) {
	h := nats.Header{headerExpectSeq: {strconv.FormatUint(expect, 10)}, headerKVOp: {"DEL"}, HeaderReason: {reason}}
	if keep > 0 {
		h[headerTTL] = []string{strconv.Itoa(int(max(keep, time.Second).Seconds())) + "s"}
	}
	b.add(keySubject(kv, key), nil, h)
}

// Emit adds an event, as runtime.Emit would publish it.
func (b *Batch) Emit(eventType string, payload any, opts ...EmitOption) {
	if b.err != nil {
		return
	}
	if b.st != nil && !b.st.fn.mayEmit(eventType) {
		b.err = fmt.Errorf("emit %s: not declared in FuncConfig.Emits of %s", eventType, b.st.fn.Name)
		return
	}
	data, err := json.Marshal(payload)
	if err != nil {
		b.err = fmt.Errorf("emit %s: %w", eventType, err)
		return
	}
	ev := pendingEvent{typ: eventType, data: data}
	for _, o := range opts {
		o(&ev)
	}
	m, id := b.eventMsg(ev)
	m.Header.Set(nats.MsgIdHdr, id)
	b.msgs = append(b.msgs, m)
}

// Schedule adds an event of eventType that the server publishes at at,
// kept meanwhile on subject (which must belong to the same stream, and
// differ from eventType); purging subject first (PurgeSchedule) cancels it.
func (b *Batch) Schedule(subject string, at time.Time, eventType string, payload any, opts ...EmitOption) {
	if b.err != nil {
		return
	}
	data, err := json.Marshal(payload)
	if err != nil {
		b.err = fmt.Errorf("schedule %s: %w", eventType, err)
		return
	}
	ev := pendingEvent{typ: eventType, data: data}
	for _, o := range opts {
		o(&ev)
	}
	m, _ := b.eventMsg(ev)
	m.Subject = subject
	m.Header.Set("Nats-Schedule", "@at "+at.UTC().Format(time.RFC3339))
	m.Header.Set("Nats-Schedule-Target", eventType)
	m.Header.Set(headerTTL, "never") // due after the stream's MaxAge, it must still be there
	b.msgs = append(b.msgs, m)
}

// eventMsg stamps an event as the outbox does and returns its message id.
func (b *Batch) eventMsg(ev pendingEvent) (*nats.Msg, string) {
	source, cid, traceparent := "natsfn/job", CorrelationID(b.ctx), ""
	if st := b.st; st != nil {
		source = "natsfn/" + st.svc + "/" + st.fn.Name
		traceparent = st.header.Get(HeaderTraceParent)
		if ev.id == "" {
			ev.id = st.nextEventID(ev.typ)
		}
	}
	if ev.id == "" {
		ev.id = NewCorrelationID()
	}
	return eventMsg(source, ev, cid, traceparent), ev.id + "|" + ev.typ
}

// Commit stores the batch, all of it or nothing, and waits for the server's
// answer. A conflict (IsConflict) means a compare-and-set lost: read again
// and decide again.
func (b *Batch) Commit() error {
	if b.err != nil {
		return b.err
	}
	if len(b.msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(b.ctx, writeAttempt)
	defer cancel()
	_, err := jetstreamext.PublishMsgBatch(ctx, b.rt.js, b.msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	switch {
	case err == nil:
		return nil
	case IsConflict(err):
		return err
	case errors.Is(err, nats.ErrNoResponders):
		return Unavailable("batch on %s: no stream captures it", b.msgs[0].Subject)
	}
	return fmt.Errorf("batch on %s: %w", b.msgs[0].Subject, err)
}

// PurgeSchedule cancels the scheduled event kept on subject of stream.
func PurgeSchedule(ctx context.Context, stream, subject string) error {
	rt := runtimeOf(ctx)
	if rt == nil {
		return errors.New("purge schedule: not inside a function or job")
	}
	s, err := rt.stream(ctx, stream)
	if err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject(subject))
}

func keySubject(kv jetstream.KeyValue, key string) string {
	return "$KV." + kv.Bucket() + "." + key
}
