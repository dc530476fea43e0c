package wire

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

type (
	// Error is an error with a status code that a function returns to say what
	// kind of failure happened. Any other error becomes a 500 whose message is
	// not shown to the caller. Codes are HTTP statuses: 400 the input breaks
	// the contract, 404 the thing asked for does not exist, 409 the request
	// clashes with the current state, 422 a business rule says no, 500 a bug
	// (details only in the log), 503 a dependency is down, 504 no answer in
	// time; 503 and 504 are worth retrying.
	Error struct {
		Code    int          `json:"code"`
		Message string       `json:"error"`
		Details []FieldError `json:"details,omitempty"`
	}

	// FieldError names one input field and what is wrong with it.
	FieldError struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	}
)

// ErrInternal is what any unclassified error becomes.
var ErrInternal = &Error{Code: http.StatusInternalServerError, Message: "internal error"}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	msg := e.Message + ":"
	for i, d := range e.Details {
		if i > 0 {
			msg += ";"
		}
		if d.Field == "" {
			msg += " " + d.Message
		} else {
			msg += " " + d.Field + ": " + d.Message
		}
	}
	return msg
}

// Is makes errors.Is(err, target) true for every *Error of target's code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Transient reports whether retrying the same input later may succeed.
func (e *Error) Transient() bool {
	return e.Code == http.StatusServiceUnavailable || e.Code == http.StatusGatewayTimeout
}

// Classify gives any error its status, the one classification of the
// runtime, its client and the gateway: an *Error (anywhere in the chain)
// keeps its code; no answer in time (a deadline, a NATS timeout) is 504;
// NATS or JetStream unreachable, without responders or electing a leader
// is 503; a key JetStream refuses is the caller's 400; anything else is a
// generic 500, so internals never leak to callers.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return errTimeout
	}
	if unavailable(err) {
		return errUnavailable
	}
	if errors.Is(err, jetstream.ErrInvalidKey) {
		// A function used caller input as a key without checking it.
		return &Error{Code: http.StatusBadRequest, Message: "invalid id", Details: []FieldError{{Field: "id", Message: "cannot name a record: use letters, digits, '-' and '_'"}}}
	}
	return ErrInternal
}

var (
	errTimeout     = &Error{Code: http.StatusGatewayTimeout, Message: "no answer in time; retry shortly"}
	errUnavailable = &Error{Code: http.StatusServiceUnavailable, Message: "messaging temporarily unavailable; retry shortly"}
)

// unavailable reports failures of NATS itself rather than of the function.
func unavailable(err error) bool {
	for _, target := range []error{
		nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrConnectionReconnecting,
		nats.ErrConnectionDraining, nats.ErrDisconnected, jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code == http.StatusServiceUnavailable
}

// FromReply turns a micro error reply back into an *Error, so callers of a
// function see the same value the function returned; nil for a success.
func FromReply(msg *nats.Msg) error {
	codeText := msg.Header.Get(micro.ErrorCodeHeader)
	if codeText == "" {
		return nil
	}
	code, err := strconv.Atoi(codeText)
	if err != nil {
		code = http.StatusInternalServerError
	}
	e := &Error{Code: code, Message: msg.Header.Get(micro.ErrorHeader)}
	var body Error
	if json.Unmarshal(msg.Data, &body) == nil && len(body.Details) > 0 {
		e.Details = body.Details
	}
	return e
}

// Request sends msg to a function and returns its reply, or the function's
// *Error; a failure of the request itself is classified: no responders and
// a closed connection are 503 naming the subject, no reply in time is 504.
func Request(ctx context.Context, nc *nats.Conn, msg *nats.Msg) (*nats.Msg, error) {
	if msg.Header.Get(HeaderCorrelationID) == "" {
		StampCorrelation(ctx, msg)
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	if _, span := ChildSpan(ctx, "call "+msg.Subject, trace.SpanKindClient, msg.Subject, msg.Header); span != nil {
		reply, err := request(ctx, nc, msg)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		return reply, err
	}
	return request(ctx, nc, msg)
}

func request(ctx context.Context, nc *nats.Conn, msg *nats.Msg) (*nats.Msg, error) {
	reply, err := nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		e := Classify(err)
		switch e.Code {
		case http.StatusGatewayTimeout:
			return nil, &Error{Code: e.Code, Message: "no reply from " + msg.Subject + " in time"}
		case http.StatusServiceUnavailable:
			if errors.Is(err, nats.ErrNoResponders) {
				return nil, &Error{Code: e.Code, Message: "no function is serving " + msg.Subject}
			}
			return nil, &Error{Code: e.Code, Message: "NATS is not reachable: " + err.Error()}
		}
		return nil, err
	}
	if ferr := FromReply(reply); ferr != nil {
		return nil, ferr
	}
	return reply, nil
}

// Call sends in as JSON to subject and decodes the reply into out.
func Call(ctx context.Context, nc *nats.Conn, subject string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return errors.New("encode request for " + subject + ": " + err.Error())
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	reply, err := Request(ctx, nc, msg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(reply.Data, out); err != nil {
		return errors.New("decode reply from " + subject + ": " + err.Error())
	}
	return nil
}
