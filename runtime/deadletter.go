package natsfn

import (
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

func deadLetterStreamConfig(ev EventsConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        wire.DeadLetterStream,
		Description: "natsfn dead letters: events that could not be processed, with the reason",
		Subjects:    []string{wire.DeadLetterSubject + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    ev.Replicas,
		MaxAge:      ev.DeadLetterMaxAge,
		Duplicates:  ev.Duplicates,
	}
}
