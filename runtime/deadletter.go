package natsfn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The dead-letter stream keeps every event that could not be processed, with
// its original subject, payload and headers and why it was set aside.
const (
	DeadLetterStream  = "NATSFN_DLQ"
	deadLetterSubject = "natsfn.dlq"
)

// Headers a dead letter carries besides the original ones.
const (
	HeaderDLQSubject    = "Natsfn-Dlq-Subject"
	HeaderDLQStream     = "Natsfn-Dlq-Stream"
	HeaderDLQSequence   = "Natsfn-Dlq-Sequence"
	HeaderDLQService    = "Natsfn-Dlq-Service"
	HeaderDLQFunction   = "Natsfn-Dlq-Function"
	HeaderDLQError      = "Natsfn-Dlq-Error"
	HeaderDLQClass      = "Natsfn-Dlq-Class"
	HeaderDLQDeliveries = "Natsfn-Dlq-Deliveries"
	HeaderDLQTime       = "Natsfn-Dlq-Time"
	HeaderDLQMsgID      = "Natsfn-Dlq-Original-Msg-Id"
)

// Why an event was dead-lettered.
const (
	ClassPermanent = "permanent" // invalid payload or a 4xx: retrying cannot help
	ClassExhausted = "exhausted" // transient failures on every one of MaxDeliver deliveries
	ClassCrashed   = "crashed"   // deliveries ran out without any answer: replicas died or stalled
)

// DeadLetter is one entry of the dead-letter stream.
type DeadLetter struct {
	ID         uint64 // sequence in the dead-letter stream
	Subject    string // where the event was published
	Stream     string
	Sequence   uint64 // position in its stream
	Service    string
	Function   string
	Error      string
	Class      string
	Deliveries int
	Time       time.Time
	Header     nats.Header // the original headers
	Data       []byte
}

// msg is the dead letter as stored. Its Nats-Msg-Id is derived from the
// original's position, so the consumer and the MAX_DELIVERIES advisory
// watcher cannot both store it.
func (d DeadLetter) msg() *nats.Msg {
	m := nats.NewMsg(deadLetterSubject + "." + d.Service + "." + d.Function)
	m.Data = d.Data
	for k, v := range d.Header {
		switch k {
		case nats.MsgIdHdr:
			m.Header[HeaderDLQMsgID] = v
		default:
			m.Header[k] = v
		}
	}
	m.Header.Set(HeaderDLQSubject, d.Subject)
	m.Header.Set(HeaderDLQStream, d.Stream)
	m.Header.Set(HeaderDLQSequence, strconv.FormatUint(d.Sequence, 10))
	m.Header.Set(HeaderDLQService, d.Service)
	m.Header.Set(HeaderDLQFunction, d.Function)
	m.Header.Set(HeaderDLQError, d.Error)
	m.Header.Set(HeaderDLQClass, d.Class)
	m.Header.Set(HeaderDLQDeliveries, strconv.Itoa(d.Deliveries))
	m.Header.Set(HeaderDLQTime, d.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dlq|%s|%d", d.Stream, d.Sequence))
	return m
}

func deadLetterFromMsg(id uint64, m *nats.Msg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		ID: id, Subject: h.Get(HeaderDLQSubject), Stream: h.Get(HeaderDLQStream),
		Service: h.Get(HeaderDLQService), Function: h.Get(HeaderDLQFunction),
		Error: h.Get(HeaderDLQError), Class: h.Get(HeaderDLQClass), Data: m.Data,
		Header: nats.Header{},
	}
	d.Sequence, _ = strconv.ParseUint(h.Get(HeaderDLQSequence), 10, 64)
	d.Deliveries, _ = strconv.Atoi(h.Get(HeaderDLQDeliveries))
	d.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderDLQTime))
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "Natsfn-Dlq-") && k != HeaderDLQMsgID, k == nats.MsgIdHdr:
		case k == HeaderDLQMsgID:
			d.Header[nats.MsgIdHdr] = v
		default:
			d.Header[k] = v
		}
	}
	return d
}

func deadLetterStreamConfig(ev EventsConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "natsfn dead letters: events that could not be processed, with the reason",
		Subjects:    []string{deadLetterSubject + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    ev.Replicas,
		MaxAge:      ev.DeadLetterMaxAge,
		Duplicates:  ev.Duplicates,
	}
}

// DeadLetters reads and replays the dead-letter stream; `natsfn dlq` uses it.
type DeadLetters struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// ErrNoDeadLetterStream means no natsfn runtime with event triggers has run
// against this NATS yet.
var ErrNoDeadLetterStream = errors.New("no dead-letter stream " + DeadLetterStream + " on this NATS: no natsfn function with event triggers has run here yet (is NATS_URL right?)")

// OpenDeadLetters finds the dead-letter stream.
func OpenDeadLetters(ctx context.Context, nc *nats.Conn) (*DeadLetters, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoDeadLetterStream
	}
	if err != nil {
		return nil, err
	}
	return &DeadLetters{js: js, stream: s}, nil
}

// List returns every dead letter, oldest first.
func (d *DeadLetters) List(ctx context.Context) ([]DeadLetter, error) {
	info, err := d.stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(int(min(info.State.Msgs-uint64(len(out)), 256)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			out = append(out, deadLetterFromMsg(meta.Sequence.Stream, &nats.Msg{Header: m.Headers(), Data: m.Data()}))
			if meta.NumPending == 0 {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

// Get returns one dead letter by id.
func (d *DeadLetters) Get(ctx context.Context, id uint64) (DeadLetter, error) {
	raw, err := d.stream.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("no dead letter %d (see `natsfn dlq list`)", id)
	}
	if err != nil {
		return DeadLetter{}, err
	}
	return deadLetterFromMsg(raw.Sequence, &nats.Msg{Header: raw.Header, Data: raw.Data}), nil
}

// Replay republishes a dead letter to its original subject with a fresh
// Nats-Msg-Id and, once JetStream has stored it, removes it from the
// dead-letter stream.
func (d *DeadLetters) Replay(ctx context.Context, id uint64) error {
	dl, err := d.Get(ctx, id)
	if err != nil {
		return err
	}
	m := nats.NewMsg(dl.Subject)
	m.Data = dl.Data
	for k, v := range dl.Header {
		m.Header[k] = v
	}
	m.Header.Set(nats.MsgIdHdr, "replay|"+nuid.Next())
	if _, err := d.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("replay dead letter %d to %s: %w", id, dl.Subject, err)
	}
	if err := d.stream.DeleteMsg(ctx, id); err != nil {
		return fmt.Errorf("dead letter %d was replayed but could not be removed: %w", id, err)
	}
	return nil
}
