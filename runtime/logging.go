package natsfn

import (
	"context"
	"time"

	"github.com/natsfn/natsfn/runtime/internal/wire"
	"github.com/rs/zerolog"
)

// logging writes one line per invocation with its outcome, code and duration.
// Server errors are errors and client errors warnings; successes are debug
// lines (`--log-level debug`), since metrics and `nats micro stats` already
// count them and a line per success costs real throughput.
func logging() middleware {
	return func(next handler) handler {
		return func(ctx context.Context, inv *rawCall) ([]byte, error) {
			out, err := next(ctx, inv)
			if err == nil && !logs(ctx, zerolog.DebugLevel) {
				return out, err
			}
			log := Logger(ctx)
			code, outcome := outcomeOf(err)
			var ev *zerolog.Event
			switch {
			case code >= 500:
				ev = log.Error().AnErr("cause", err)
			case code >= 400:
				ev = log.Warn().Str("reason", err.Error())
			default:
				ev = log.Info()
			}
			ev.Str("outcome", outcome).Int("code", code).
				Float64("duration_ms", float64(time.Since(inv.Started).Microseconds())/1000).Msg("invocation")
			return out, err
		}
	}
}

// outcomeOf names an invocation result for logs and metrics.
func outcomeOf(err error) (code int, outcome string) {
	if err == nil {
		return 200, "ok"
	}
	e := wire.Classify(err)
	switch {
	case e.Code >= 500:
		return e.Code, "error"
	default:
		return e.Code, "rejected"
	}
}
