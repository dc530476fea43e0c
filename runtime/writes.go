package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"go.opentelemetry.io/otel/trace"
)

// Records, keys and schedules, written one message at a time with
// compare-and-set. A step that must change two things (a hold and the
// stock it takes) writes them in an order a redelivery can finish, and
// leaves in the first what the second still has to do.
//
// Why not nats-server's atomic batches: on a one-replica file stream the
// server stages every batch in a file store of its own and syncs it, about
// 3 ms per batch here, one batch at a time per stream (0.3k batches/s
// against 30k plain publishes/s, measured with 8 writers). On R3 or memory
// storage a batch costs what its messages do; a single-node deployment,
// natsfn local and the tests would pay the full price.

// Headers of records, keys and schedules.
const (
	headerExpectSeq = "Nats-Expected-Last-Subject-Sequence"
	headerRollup    = "Nats-Rollup"
	headerTTL       = "Nats-TTL"
	headerKVOp      = "KV-Operation"
)

// AnyRevision, as the expected revision of PutKey or DeleteKey, writes
// whatever the key holds: for a write no other writer can contradict.
const AnyRevision = ^uint64(0)

// expectHeader is the compare-and-set header for expect (none for
// AnyRevision).
func expectHeader(expect uint64) nats.Header {
	if expect == AnyRevision {
		return nats.Header{}
	}
	return nats.Header{headerExpectSeq: {strconv.FormatUint(expect, 10)}}
}

// Put stores v as the record on subject (the subject's latest value only:
// earlier ones roll up; kept whatever the stream's MaxAge), if the
// subject's last sequence is still expect (0: it holds nothing yet). It
// returns the record's new sequence; a lost compare-and-set is IsConflict.
func Put(ctx context.Context, subject string, v any, expect uint64) (uint64, error) {
	if _, err := writer(ctx, subject); err != nil {
		return 0, err
	}
	return write(ctx, subject, v, nats.Header{
		headerExpectSeq: {strconv.FormatUint(expect, 10)},
		headerRollup:    {"sub"},
		headerTTL:       {"never"},
	})
}

// PutKey stores v at key of kv if the key's revision is still expect (0:
// the key holds nothing, not even a delete marker). A non-empty id makes a
// repeat of this write (a redelivery after the first got through) a no-op
// that still succeeds, within the bucket's duplicates window: repeated
// says so. The server checks the revision before the id: a repeat must read
// the key again and pass its current revision. A restarted server rebuilds
// the window from the messages it still stores, so the id of a revision
// since superseded is forgotten: for a write that must happen once, record
// in the keys themselves that it happened (see the saga's inventory).
func PutKey(ctx context.Context, kv jetstream.KeyValue, key string, v any, expect uint64, id string) (rev uint64, repeated bool, err error) {
	h := expectHeader(expect)
	if id != "" {
		h[nats.MsgIdHdr] = []string{id}
	}
	ack, err := publish(ctx, keySubject(kv, key), v, h)
	if err != nil {
		return 0, false, err
	}
	return ack.Sequence, ack.Duplicate, nil
}

// DeleteKey deletes key of kv if its revision is still expect (0: none), and
// leaves a delete marker that says why (wire.HeaderReason), kept for keep and
// then gone; while it is there, PutKey with expect 0 fails.
func DeleteKey(ctx context.Context, kv jetstream.KeyValue, key string, expect uint64, keep time.Duration, reason string) error {
	h := expectHeader(expect)
	h.Set(headerKVOp, "DEL")
	h.Set(wire.HeaderReason, reason)
	if keep > 0 {
		h[headerTTL] = []string{strconv.Itoa(int(max(keep, time.Second).Seconds())) + "s"}
	}
	_, err := write(ctx, keySubject(kv, key), nil, h)
	return err
}

// Schedule stores an event of eventType that the server publishes at at
// (into the same stream), kept meanwhile on subject, which must differ from
// eventType; PurgeSchedule cancels it. It carries the envelope, correlation
// id and id (see Emit) of an emitted event, and is written once per input (a repeat
// within the duplicates window is a no-op).
//
// It is sent without waiting for the server: writes that
// follow on the same stream are stored after it, and the invocation's
// outcome waits for it, before its events are published (if it failed, the
// invocation fails). A function that writes a deadline and then the record
// it guards pays one round trip for both.
func Schedule(ctx context.Context, subject string, at time.Time, eventType, id string, payload any) error {
	if _, err := writer(ctx, subject); err != nil {
		return err
	}
	ev, err := newEvent("schedule", eventType, id, payload)
	if err != nil {
		return err
	}
	st := invocationOf(ctx)
	if ev.id == "" {
		ev.id = st.nextEventID(eventType)
	}
	m := eventMsg("natsfn/"+st.svc+"/"+st.fn.Name, ev, st.cid, st.header.Get(wire.HeaderTraceParent))
	m.Subject = subject
	m.Header.Set(headerTTL, "never") // due after the stream's MaxAge, it must still be there
	m.Header.Set(nats.MsgIdHdr, "schedule|"+ev.id+"|"+subject)
	// Sent without waiting: the invocation's outcome waits for it.
	// The span covers sending; the stored ack is the invocation's to await.
	_, span := wire.ChildSpan(ctx, "schedule "+eventType, trace.SpanKindProducer, subject, m.Header)
	ack, err := st.rt.js.PublishMsgAsync(m, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(eventType))
	if span != nil {
		endSpan(span, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	st.mu.Lock()
	st.ahead = append(st.ahead, ack)
	st.mu.Unlock()
	return nil
}

// PurgeSchedule cancels the scheduled event kept on subject of stream.
func PurgeSchedule(ctx context.Context, stream, subject string) error {
	rt, err := writer(ctx, subject)
	if err != nil {
		return err
	}
	s, err := rt.stream(ctx, stream)
	if err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject(subject))
}

func write(ctx context.Context, subject string, v any, h nats.Header) (uint64, error) {
	ack, err := publish(ctx, subject, v, h)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

func publish(ctx context.Context, subject string, v any, h nats.Header) (*jetstream.PubAck, error) {
	m := &nats.Msg{Subject: subject, Header: h}
	if v != nil {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", subject, err)
		}
		m.Data = data
	}
	rt := runtimeOf(ctx)
	if rt == nil {
		return nil, fmt.Errorf("%s: not inside a function", subject)
	}
	wctx, cancel := context.WithTimeout(ctx, writeAttempt)
	defer cancel()
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	_, span := wire.ChildSpan(ctx, "write "+writeTarget(subject), trace.SpanKindProducer, subject, m.Header)
	ack, err := rt.js.PublishMsg(wctx, m)
	if span != nil {
		endSpan(span, err)
	}
	switch {
	case err == nil:
		return ack, nil
	case IsConflict(err):
		return nil, err
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return nil, Unavailable("%s: no stream keeps it", subject)
	}
	return nil, fmt.Errorf("%s: %w", subject, err)
}

func keySubject(kv jetstream.KeyValue, key string) string {
	return "$KV." + kv.Bucket() + "." + key
}

// writeTarget names what a write goes to without its key (span names stay
// few): "$KV.inventory" for a key of that bucket, "order" for order.<id>.
func writeTarget(subject string) string {
	tokens := strings.SplitN(subject, ".", 3)
	if tokens[0] == "$KV" && len(tokens) > 1 {
		return "$KV." + tokens[1]
	}
	return tokens[0]
}
