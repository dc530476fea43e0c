package natsfn

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// withTimeout cancels an invocation's context after d and answers 504, so a stuck
// dependency frees its reader instead of holding it forever. It is a context
// deadline and nothing more: failsafe-go's timeout policy did the same with
// an execution, a policy result and a timer per call, 5% of the CPU of a
// trivial function (see BENCHMARKS.md).
func withTimeout(d time.Duration) middleware {
	return func(next handler) handler {
		return func(ctx context.Context, inv *rawCall) ([]byte, error) {
			tctx, cancel := context.WithTimeoutCause(ctx, d, errTimedOut)
			defer cancel()
			out, err := next(tctx, inv)
			if err != nil && errors.Is(context.Cause(tctx), errTimedOut) {
				return nil, &Error{Code: http.StatusGatewayTimeout, Message: "function timed out after " + d.String()}
			}
			return out, err
		}
	}
}

var errTimedOut = errors.New("invocation timed out")
