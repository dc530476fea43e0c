package runtime

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// HeaderCorrelationID carries the correlation id on every request, reply and
// published message, from the HTTP edge through every step.
const HeaderCorrelationID = "X-Correlation-ID"

type ctxKey int

const (
	correlationKey ctxKey = iota
	connKey
)

// WithCorrelationID returns a context carrying id; Call and Publish send it on.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID returns the correlation id of the current invocation, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}

// NewCorrelationID makes a fresh id for a request that came without one.
func NewCorrelationID() string { return uuid.NewString() }

// Logger returns the invocation's logger: every line it writes carries the
// function, service, instance and correlation id.
func Logger(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }

func withConn(ctx context.Context, nc *nats.Conn) context.Context {
	return context.WithValue(ctx, connKey, nc)
}

// Conn returns the NATS connection of the runtime running this invocation.
func Conn(ctx context.Context) *nats.Conn {
	nc, _ := ctx.Value(connKey).(*nats.Conn)
	return nc
}

// Publish sends v as JSON on subject from inside a function, with the
// invocation's correlation id in the headers.
func Publish(ctx context.Context, subject string, v any) error {
	nc := Conn(ctx)
	if nc == nil {
		return Unavailable("publish %s: no NATS connection in context (call Publish from inside a function)", subject)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	stampCorrelation(ctx, msg)
	return nc.PublishMsg(msg)
}

func stampCorrelation(ctx context.Context, msg *nats.Msg) {
	if id := CorrelationID(ctx); id != "" {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(HeaderCorrelationID, id)
	}
}
