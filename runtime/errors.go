package natsfn

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type (
	// Error is an error with a status code that a function returns to say what
	// kind of failure happened; its Code is an HTTP status, and the gateway
	// answers with it. Build one with Invalid, NotFound, Conflict, Rule or
	// Unavailable; any other error a function returns becomes a 500 whose
	// message stays in the log. A failure of NATS itself is a 503, no answer
	// in time a 504: both are retried for an event. errors.Is(err, e) is
	// true for every *Error of e's code. Callers (Call, the client package)
	// get back the same *Error the function returned.
	Error = wire.Error

	// FieldError names one input field and what is wrong with it.
	FieldError = wire.FieldError
)

// ErrConfig is wrapped by every configuration error the runtime reports
// (Config, FuncConfig, Service), so errors.Is(err, ErrConfig) tells a
// definition to fix from a failure to reach NATS (ErrStartup).
var ErrConfig = errors.New("natsfn: invalid configuration")

// configError wraps ErrConfig with what to fix.
func configError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Invalid returns a 400 error listing the fields at fault.
func Invalid(msg string, details ...FieldError) *Error {
	return &Error{Code: http.StatusBadRequest, Message: msg, Details: details}
}

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a 409 error.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

// Rule returns a 422 error: the input is valid but a business rule refuses it.
func Rule(format string, args ...any) *Error {
	return &Error{Code: http.StatusUnprocessableEntity, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns a 503 error: a dependency is down, retry later.
func Unavailable(format string, args ...any) *Error {
	return &Error{Code: http.StatusServiceUnavailable, Message: fmt.Sprintf(format, args...)}
}
