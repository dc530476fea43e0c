package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// Status codes a function can return. They travel in the standard
// Nats-Service-Error-Code header and map one to one onto HTTP statuses at the
// gateway.
const (
	CodeInvalid     = 400 // the input breaks the contract
	CodeNotFound    = 404 // the thing asked for does not exist
	CodeConflict    = 409 // the request clashes with the current state
	CodeRule        = 422 // the input is well formed but a business rule says no
	CodeInternal    = 500 // a bug or an unclassified failure; details only in the log
	CodeUnavailable = 503 // a dependency is down; worth retrying later
	CodeTimeout     = 504 // the invocation ran past its deadline; worth retrying later
)

type (
	// Error is an error with a status code that a function returns to say what
	// kind of failure happened. Any other error becomes a 500 whose message is
	// not shown to the caller.
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

// Sentinel errors for errors.Is: an *Error matches the sentinel of its code.
var (
	ErrInvalid     = &Error{Code: CodeInvalid, Message: "invalid request"}
	ErrNotFound    = &Error{Code: CodeNotFound, Message: "not found"}
	ErrConflict    = &Error{Code: CodeConflict, Message: "conflict"}
	ErrRule        = &Error{Code: CodeRule, Message: "business rule violated"}
	ErrInternal    = &Error{Code: CodeInternal, Message: "internal error"}
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: "service unavailable"}
	ErrTimeout     = &Error{Code: CodeTimeout, Message: "timed out"}
)

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

// Is makes errors.Is(err, ErrNotFound) true for every 404 *Error.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Transient reports whether retrying the same input later may succeed.
func (e *Error) Transient() bool { return e.Code == CodeUnavailable || e.Code == CodeTimeout }

// Invalid returns a 400 error listing the fields at fault.
func Invalid(msg string, details ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: msg, Details: details}
}

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a 409 error.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// Rule returns a 422 error: the input is valid but a business rule refuses it.
func Rule(format string, args ...any) *Error {
	return &Error{Code: CodeRule, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns a 503 error: a dependency is down, retry later.
func Unavailable(format string, args ...any) *Error {
	return &Error{Code: CodeUnavailable, Message: fmt.Sprintf(format, args...)}
}

// AsError classifies any error: an *Error (anywhere in the chain) keeps its
// code; NATS and JetStream being unreachable, slow or electing a leader is a
// 503, worth retrying; anything else becomes a generic 500 so internals
// never leak to callers.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if infrastructure(err) {
		return errInfrastructure
	}
	if errors.Is(err, jetstream.ErrInvalidKey) {
		// A function used caller input as a key without checking it.
		return Invalid("invalid id", FieldError{Field: "id", Message: "cannot name a record: use letters, digits, '-' and '_'"})
	}
	return ErrInternal
}

var errInfrastructure = &Error{Code: CodeUnavailable, Message: "messaging temporarily unavailable; retry shortly"}

// infrastructure reports failures of NATS itself rather than of the function.
func infrastructure(err error) bool {
	for _, target := range []error{
		context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed,
		nats.ErrConnectionReconnecting, nats.ErrConnectionDraining, nats.ErrDisconnected,
		jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code == 503
}

// errorFromMsg turns a micro error reply back into an *Error, so callers of
// a function see the same value the function returned.
func errorFromMsg(msg *nats.Msg) error {
	codeText := msg.Header.Get(micro.ErrorCodeHeader)
	if codeText == "" {
		return nil
	}
	code, err := strconv.Atoi(codeText)
	if err != nil {
		code = CodeInternal
	}
	e := &Error{Code: code, Message: msg.Header.Get(micro.ErrorHeader)}
	var body Error
	if json.Unmarshal(msg.Data, &body) == nil && len(body.Details) > 0 {
		e.Details = body.Details
	}
	return e
}
