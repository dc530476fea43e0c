// Package deadletter reads and replays natsfn's dead-letter stream: every
// event a function could not process, with its original subject, payload
// and headers and why it was set aside. `natsfn dlq` is built on it; a
// running function never needs it.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type (
	// Letter is one entry of the dead-letter stream: ID is its sequence
	// there; Subject, Stream and Sequence say where the event was; Class is
	// why it was set aside (permanent, exhausted or crashed) and Error the
	// function's last error.
	Letter = wire.DeadLetter

	// Stream reads and replays the dead-letter stream.
	Stream struct {
		js     jetstream.JetStream
		stream jetstream.Stream
	}
)

// Name is the dead-letter stream's name.
const Name = wire.DeadLetterStream

// ErrNoStream means no natsfn runtime with event triggers has run against
// this NATS yet.
var ErrNoStream = errors.New("no dead-letter stream " + Name + " on this NATS: no natsfn function with event triggers has run here yet (is NATS_URL right?)")

// Open finds the dead-letter stream.
func Open(ctx context.Context, nc *nats.Conn) (*Stream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoStream
	}
	if err != nil {
		return nil, err
	}
	return &Stream{js: js, stream: s}, nil
}

// List returns every dead letter, oldest first.
func (d *Stream) List(ctx context.Context) ([]Letter, error) {
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
	var out []Letter
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
			out = append(out, wire.ParseDeadLetter(meta.Sequence.Stream, &nats.Msg{Header: m.Headers(), Data: m.Data()}))
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
func (d *Stream) Get(ctx context.Context, id uint64) (Letter, error) {
	raw, err := d.stream.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Letter{}, fmt.Errorf("no dead letter %d (see `natsfn dlq list`)", id)
	}
	if err != nil {
		return Letter{}, err
	}
	return wire.ParseDeadLetter(raw.Sequence, &nats.Msg{Header: raw.Header, Data: raw.Data}), nil
}

// Replay republishes a dead letter to its original subject with a fresh
// Nats-Msg-Id and, once JetStream has stored it, removes it from the
// dead-letter stream. A key change (a watch trigger's) is refused: it
// would write the key's old value back; so is a tick: the schedule's next
// one runs the function again.
func (d *Stream) Replay(ctx context.Context, id uint64) error {
	dl, err := d.Get(ctx, id)
	if err != nil {
		return err
	}
	if strings.HasPrefix(dl.Subject, "natsfn.tick.") {
		return fmt.Errorf("dead letter %d is a tick of a schedule, not an event: the schedule's next tick runs the function again; remove the letter once it has", id)
	}
	if strings.HasPrefix(dl.Subject, "$KV.") {
		// Publishing it again would write the key's old value over whatever
		// it holds now.
		return fmt.Errorf("dead letter %d is a change of key %s, not an event: replaying it would write the key's old value back; fix the function, then write the key again if it still needs handling, and remove the letter", id, strings.TrimPrefix(dl.Subject, "$KV."))
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

// Replayable reports whether a dead letter can be replayed: an event can, a
// key change or a tick cannot (see Replay).
func Replayable(l Letter) bool {
	return !strings.HasPrefix(l.Subject, "$KV.") && !strings.HasPrefix(l.Subject, "natsfn.tick.")
}
