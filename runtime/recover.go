package natsfn

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// recovering turns a panic in a function into a 500 for the caller and an error
// log line with the stack, so one bad input cannot take the replica down.
func recovering() middleware {
	return func(next handler) handler {
		return func(ctx context.Context, inv *rawCall) (out []byte, err error) {
			defer func() {
				if p := recover(); p != nil {
					Logger(ctx).Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Msg("function panicked")
					out, err = nil, wire.ErrInternal
				}
			}()
			return next(ctx, inv)
		}
	}
}
