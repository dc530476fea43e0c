package natsfn

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

type (
	// Invocation is one call of a function as middleware sees it: the raw
	// request before validation and decoding.
	Invocation struct {
		Service       string
		Function      string
		Instance      string // micro instance id of the service, as in `nats micro ls`
		Subject       string // the function's public subject
		CorrelationID string
		Header        nats.Header
		Data          []byte
		Started       time.Time
	}

	// Handler runs an invocation and returns the encoded response.
	Handler func(ctx context.Context, inv *Invocation) ([]byte, error)

	// Middleware wraps a Handler, e.g. with retries or a circuit breaker.
	Middleware func(Handler) Handler
)

// chain applies middleware so that the first one is the outermost.
func chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
