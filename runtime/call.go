package natsfn

import (
	"context"
	"slices"

	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// Call invokes, from inside a function, the function listening on subject
// with in as its JSON body, and decodes the reply into Out. subject must be
// one of the calling function's FuncConfig.Calls. A function's error comes
// back as the *Error it returned (code, message, field details); no
// function serving the subject is a 503, no reply in time a 504. The
// invocation's correlation id is sent along; ctx's deadline bounds the
// wait. Code outside a function calls with the client package.
func Call[Out any](ctx context.Context, subject string, in any) (Out, error) {
	var out Out
	st := invocationOf(ctx)
	if st == nil {
		return out, Unavailable("call %s: not inside a function (outside one, use the client package)", subject)
	}
	if !slices.Contains(st.fn.Calls, subject) {
		return out, configError("function %s calls %s, which is not in its FuncConfig.Calls", st.fn.Name, subject)
	}
	return out, wire.Call(ctx, st.nc, subject, in, &out)
}
