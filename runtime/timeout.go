package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// Timeout cancels an invocation's context after d and answers 504, so a stuck
// dependency frees the slot instead of holding it forever.
func Timeout(d time.Duration) Middleware {
	executor := failsafe.With(timeout.New[[]byte](d))
	return func(next Handler) Handler {
		return func(ctx context.Context, inv *Invocation) ([]byte, error) {
			out, err := executor.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[[]byte]) ([]byte, error) {
				return next(exec.Context(), inv)
			})
			if errors.Is(err, timeout.ErrExceeded) {
				return nil, &Error{Code: CodeTimeout, Message: "function timed out after " + d.String()}
			}
			return out, err
		}
	}
}
