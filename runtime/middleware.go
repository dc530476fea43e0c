package natsfn

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

type (
	// rawCall is one call of a function as middleware sees it: the raw
	// request before validation and decoding.
	rawCall struct {
		Service       string
		Function      string
		Instance      string // micro instance id of the service, as in `nats micro ls`
		Subject       string // the function's public subject
		CorrelationID string
		Header        nats.Header
		Data          []byte
		Started       time.Time
	}

	// handler runs an invocation and returns the encoded response.
	handler func(ctx context.Context, inv *rawCall) ([]byte, error)

	// middleware wraps a handler, e.g. with retries or a circuit breaker.
	middleware func(handler) handler
)

// chain applies middleware so that the first one is the outermost.
func chain(h handler, mws ...middleware) handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
