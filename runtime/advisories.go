package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// An event whose every delivery ended without an answer (the replica
// crashed, or hung past AckWait) never reaches the consumer's error path.
// JetStream announces it with a MAX_DELIVERIES advisory; the runtime keeps
// those advisories in a stream, so none is lost while no replica is up, and
// any replica turns them into dead letters, fetching the original event by
// its stream sequence.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

type advisoryWatcher struct {
	rt   *Runtime
	iter jetstream.MessagesContext
	done chan struct{}
}

func (rt *Runtime) startAdvisoryWatcher(ctx context.Context, triggers []*trigger) (*advisoryWatcher, error) {
	ev := rt.cfg.Events
	var filters, owners []string
	for _, t := range triggers {
		filters = append(filters, wire.AdvisorySubject+"."+t.stream+"."+t.durable)
	}
	for _, s := range rt.services {
		owners = append(owners, s.Name)
	}
	err := rt.declareStream(ctx, "advisory stream "+wire.AdvisoryStream, jetstream.StreamConfig{
		Name:        wire.AdvisoryStream,
		Description: "natsfn: JetStream MAX_DELIVERIES advisories, turned into dead letters",
		Subjects:    []string{wire.AdvisorySubject + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    ev.Replicas,
		MaxAge:      ev.MaxAge,
	})
	if err != nil {
		return nil, err
	}
	durable := wire.AdvisoryDurable(owners...)
	var cons jetstream.Consumer
	err = rt.await(ctx, "advisory consumer "+durable, func(actx context.Context) error {
		c, err := rt.js.CreateOrUpdateConsumer(actx, wire.AdvisoryStream, jetstream.ConsumerConfig{
			Durable:        durable,
			Description:    "natsfn: turns MAX_DELIVERIES advisories of " + strings.Join(owners, ", ") + " into dead letters",
			FilterSubjects: filters,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        30 * time.Second,
		})
		cons = c
		return err
	})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(16))
	if err != nil {
		return nil, err
	}
	w := &advisoryWatcher{rt: rt, iter: it, done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *advisoryWatcher) loop() {
	defer close(w.done)
	for {
		msg, err := w.iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			continue
		}
		if err := w.handle(msg.Data()); err != nil {
			w.rt.log.Warn().AnErr("cause", err).Msg("cannot dead-letter an exhausted event yet; retrying")
			_ = msg.NakWithDelay(5 * time.Second)
			continue
		}
		_ = msg.Ack()
	}
}

func (w *advisoryWatcher) handle(data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return nil // not an advisory we understand; nothing to retry
	}
	ctx, cancel := context.WithTimeout(w.rt.invokeCtx, 10*time.Second)
	defer cancel()
	cons, err := w.rt.js.Consumer(ctx, adv.Stream, adv.Consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	meta := cons.CachedInfo().Config.Metadata
	if meta[metaService] == "" {
		return nil // not a natsfn consumer
	}
	stream, err := w.rt.js.Stream(ctx, adv.Stream)
	if err != nil {
		return err
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		w.rt.log.Error().Str("stream", adv.Stream).Uint64("stream_seq", adv.StreamSeq).
			Msg("event ran out of deliveries but is gone from its stream; cannot dead-letter it")
		return nil
	}
	if err != nil {
		return err
	}
	d := wire.DeadLetter{
		Subject: raw.Subject, Stream: adv.Stream, Sequence: adv.StreamSeq,
		Service: meta[metaService], Function: meta[metaFunction], Class: wire.ClassCrashed,
		Error:      fmt.Sprintf("no answer in %d deliveries: the replicas running it crashed or stalled past AckWait", adv.Deliveries),
		Deliveries: int(adv.Deliveries), Time: time.Now(), Header: raw.Header, Data: raw.Data,
	}
	if err := w.rt.storeDeadLetter(d); err != nil {
		return err
	}
	w.rt.log.Error().Str("service", d.Service).Str("function", d.Function).Str("subject", d.Subject).
		Uint64("stream_seq", d.Sequence).Msg("event dead-lettered after its deliveries ran out")
	return nil
}

func (w *advisoryWatcher) stop() {
	w.iter.Drain()
}

func (w *advisoryWatcher) stopped() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}
