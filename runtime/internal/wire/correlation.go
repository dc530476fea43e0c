package wire

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

type correlationKey struct{}

// CorrelationKey is the context key of the correlation id; an invocation's
// context answers it without a context value of its own.
var CorrelationKey any = correlationKey{}

// WithCorrelationID returns a context carrying id; requests made with it
// send it on.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, CorrelationKey, id)
}

// CorrelationID returns the correlation id ctx carries, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(CorrelationKey).(string)
	return id
}

// MaxCorrelationIDLen is the longest correlation id passed on as is.
const MaxCorrelationIDLen = 128

// SafeCorrelationID returns id when it can travel as is, in headers and log
// lines: 1 to 128 visible ASCII characters (no space, no control
// character). Otherwise, it returns a fresh id: a caller's hostile or
// broken id is replaced, never copied.
func SafeCorrelationID(id string) string {
	if len(id) == 0 || len(id) > MaxCorrelationIDLen {
		return NewCorrelationID()
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return NewCorrelationID()
		}
	}
	return id
}

// NewCorrelationID makes a fresh, unique id for a request that came without
// one (a NUID: fast, no system call per id).
func NewCorrelationID() string { return nuid.Next() }

// StampCorrelation sets msg's correlation header from ctx, if ctx has one.
func StampCorrelation(ctx context.Context, msg *nats.Msg) {
	if id := CorrelationID(ctx); id != "" {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(HeaderCorrelationID, id)
	}
}
