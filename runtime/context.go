package natsfn

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"github.com/rs/zerolog"
)

type ctxKey int

const (
	loggerKey ctxKey = iota
	invocationKey
)

// CorrelationID returns the correlation id of the current invocation, or "".
func CorrelationID(ctx context.Context) string { return wire.CorrelationID(ctx) }

// Logger returns the invocation's logger: every line it writes carries the
// function, service, instance and correlation id. Outside an invocation it
// returns zerolog's logger of ctx.
func Logger(ctx context.Context) *zerolog.Logger {
	if l, ok := ctx.Value(loggerKey).(*zerolog.Logger); ok {
		return l
	}
	return zerolog.Ctx(ctx)
}

// invocation is the state of one running invocation that the function
// reaches through its context: correlation id, logger, outbox.
type invocation struct {
	rt      *Runtime
	svc     string // the service's name
	fn      *Function
	cid     string
	traceID string // of the invocation's span, when traced
	nc      *nats.Conn
	base    *zerolog.Logger // the function's logger, without the correlation id
	inputID string          // logical id of the input, for deterministic output ids
	header  nats.Header     // the input's headers
	// attempt is which delivery of an event this is, of attempts at most;
	// 1 of 1 for a request.
	attempt, attempts int

	logOnce sync.Once
	logger  *zerolog.Logger

	mu     sync.Mutex
	outbox []pendingEvent
	seen   map[string]int // base event type -> events of it emitted so far
	// ahead are writes sent without waiting (Schedule): the invocation's
	// outcome waits for them, before its events.
	ahead []jetstream.PubAckFuture
}

// nextEventID is the id of the next event of eventType the invocation
// emits without an id of its own: derived from the input, so a rerun of the
// same input emits the same ids and the stream drops the repeats.
func (st *invocation) nextEventID(eventType string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inputID == "" {
		st.inputID = st.cid + "/" + wire.NewCorrelationID()
	}
	if st.seen == nil {
		st.seen = map[string]int{}
	}
	base := baseType(eventType)
	n := st.seen[base]
	st.seen[base]++
	return derivedID(st.svc, st.fn.Name, st.inputID, base, n)
}

// log builds the invocation's logger on first use: most successful
// invocations never log, and a child logger costs an allocation and a copy.
func (st *invocation) log() *zerolog.Logger {
	st.logOnce.Do(func() {
		c := st.base.With().Str("correlation_id", st.cid)
		if st.traceID != "" {
			c = c.Str("trace_id", st.traceID)
		}
		l := c.Logger()
		st.logger = &l
	})
	return st.logger
}

// invocationCtx carries an invocation in one context value: one allocation
// per invocation instead of one per key.
type invocationCtx struct {
	context.Context
	st *invocation
}

func (c *invocationCtx) Value(key any) any {
	switch key {
	case wire.CorrelationKey:
		return c.st.cid
	case loggerKey:
		return c.st.log()
	case invocationKey:
		return c.st
	}
	return c.Context.Value(key)
}

func invocationOf(ctx context.Context) *invocation {
	st, _ := ctx.Value(invocationKey).(*invocation)
	return st
}

// logs reports whether the invocation's logger writes at level, without
// building the logger.
func logs(ctx context.Context, level zerolog.Level) bool {
	if st := invocationOf(ctx); st != nil {
		return st.base.GetLevel() <= level && zerolog.GlobalLevel() <= level
	}
	return Logger(ctx).GetLevel() <= level
}

// Header returns the headers of the message that started the invocation
// (request or event), e.g. an Idempotency-Key set by the gateway.
func Header(ctx context.Context) nats.Header {
	if st := invocationOf(ctx); st != nil && st.header != nil {
		return st.header
	}
	return nats.Header{}
}

// LastAttempt reports whether no retry follows if this invocation fails
// transiently: the moment to give up cleanly, e.g. emit a failure event.
// A request has one attempt; an event has EventsConfig.MaxDeliver.
func LastAttempt(ctx context.Context) bool {
	st := invocationOf(ctx)
	return st == nil || st.attempts == 0 || st.attempt >= st.attempts
}
