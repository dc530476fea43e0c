package natsfn

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
)

// HeaderCorrelationID carries the correlation id on every request, reply and
// published message, from the HTTP edge through every step.
const HeaderCorrelationID = "X-Correlation-ID"

type ctxKey int

const (
	correlationKey ctxKey = iota
	connKey
	loggerKey
	invocationKey
	runtimeKey
)

// WithCorrelationID returns a context carrying id; Call and Publish send it on.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID returns the correlation id of the current invocation, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}

// MaxCorrelationIDLen is the longest correlation id passed on as is.
const MaxCorrelationIDLen = 128

// SafeCorrelationID returns id when it can travel as is, in headers and log
// lines: 1 to 128 visible ASCII characters (no space, no control
// character). Otherwise, it returns a fresh id: a caller's hostile or
// broken id is replaced, never copied.
func SafeCorrelationID(id string) string {
	if len(id) == 0 || len(id) > MaxCorrelationIDLen {
		return NewCorrelationID()
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return NewCorrelationID()
		}
	}
	return id
}

// NewCorrelationID makes a fresh, unique id for a request that came without
// one (a NUID: fast, no system call per id).
func NewCorrelationID() string { return nuid.Next() }

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
		st.inputID = st.cid + "/" + NewCorrelationID()
	}
	if st.seen == nil {
		st.seen = map[string]int{}
	}
	base := BaseType(eventType)
	n := st.seen[base]
	st.seen[base]++
	return derivedID(st.svc, st.fn.Name, st.inputID, base, n)
}

// log builds the invocation's logger on first use: most successful
// invocations never log, and a child logger costs an allocation and a copy.
func (st *invocation) log() *zerolog.Logger {
	st.logOnce.Do(func() {
		l := st.base.With().Str("correlation_id", st.cid).Logger()
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
	case correlationKey:
		return c.st.cid
	case connKey:
		return c.st.nc
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

// Conn returns the NATS connection of the runtime running this invocation.
func Conn(ctx context.Context) *nats.Conn {
	nc, _ := ctx.Value(connKey).(*nats.Conn)
	return nc
}

// Publish sends v as JSON on subject from inside a function, with the
// invocation's correlation id in the headers.
func Publish(ctx context.Context, subject string, v any) error {
	nc := Conn(ctx)
	if nc == nil {
		return Unavailable("publish %s: no NATS connection in context (call Publish from inside a function)", subject)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	stampCorrelation(ctx, msg)
	return nc.PublishMsg(msg)
}

func stampCorrelation(ctx context.Context, msg *nats.Msg) {
	if id := CorrelationID(ctx); id != "" {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(HeaderCorrelationID, id)
	}
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

// Attempt returns which delivery of an event the invocation is, and how many
// there will be at most; for a request it returns 1, 1.
func Attempt(ctx context.Context) (n, max int) {
	if st := invocationOf(ctx); st != nil && st.attempts > 0 {
		return st.attempt, st.attempts
	}
	return 1, 1
}

// LastAttempt reports whether no retry follows if this invocation fails
// transiently: the moment to give up cleanly, e.g. emit a failure event.
func LastAttempt(ctx context.Context) bool {
	n, m := Attempt(ctx)
	return n >= m
}
