package natsfn

import (
	"context"
	"errors"
	"time"
)

// Timeout cancels an invocation's context after d and answers 504, so a stuck
// dependency frees its reader instead of holding it forever. It is a context
// deadline and nothing more: failsafe-go's timeout policy did the same with
// an execution, a policy result and a timer per call, 5% of the CPU of a
// trivial function (see BENCHMARKS.md).
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, inv *Invocation) ([]byte, error) {
			tctx, cancel := context.WithTimeoutCause(ctx, d, errTimedOut)
			defer cancel()
			out, err := next(tctx, inv)
			if err != nil && errors.Is(context.Cause(tctx), errTimedOut) {
				return nil, &Error{Code: CodeTimeout, Message: "function timed out after " + d.String()}
			}
			return out, err
		}
	}
}

var errTimedOut = errors.New("invocation timed out")
