package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Call invokes the function listening on subject with in as its JSON body and
// decodes the reply into Out. A function's error comes back as the *Error it
// returned (code, message, field details). The correlation id in ctx is sent
// along; ctx's deadline bounds the wait.
func Call[Out any](ctx context.Context, nc *nats.Conn, subject string, in any) (Out, error) {
	var out Out
	data, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("encode request for %s: %w", subject, err)
	}
	reply, err := Request(ctx, nc, subject, data)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(reply.Data, &out); err != nil {
		return out, fmt.Errorf("decode reply from %s: %w", subject, err)
	}
	return out, nil
}

// Request sends raw data to a function and returns the reply, or the
// function's *Error; no responders and timeouts come back as 503 and 504.
func Request(ctx context.Context, nc *nats.Conn, subject string, data []byte) (*nats.Msg, error) {
	msg := nats.NewMsg(subject)
	msg.Data = data
	return RequestMsg(ctx, nc, msg)
}

// RequestMsg is Request for a message with headers of its own.
func RequestMsg(ctx context.Context, nc *nats.Conn, msg *nats.Msg) (*nats.Msg, error) {
	subject := msg.Subject
	if msg.Header.Get(HeaderCorrelationID) == "" {
		stampCorrelation(ctx, msg)
	}
	reply, err := nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, Unavailable("no function is serving %s", subject)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, &Error{Code: CodeTimeout, Message: "no reply from " + subject + " in time"}
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionDraining):
		return nil, Unavailable("NATS is not reachable: %v", err)
	case err != nil:
		return nil, err
	}
	if ferr := errorFromMsg(reply); ferr != nil {
		return nil, ferr
	}
	return reply, nil
}
