package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"time"

	"github.com/natsfn/natsfn/internal/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

type (
	// FuncConfig describes one function. Zero values take the runtime's
	// defaults.
	FuncConfig struct {
		// Name is the micro endpoint name: letters, digits, '-' and '_'.
		Name string
		// Subject is where requests arrive; default "<service>.<name>".
		Subject string
		// Description is shown by `nats micro info`.
		Description string
		// Concurrency caps the requests of this function running at once in
		// one replica, and separately its events; default Config.Concurrency.
		Concurrency int
		// Timeout bounds one invocation; default Config.Timeout.
		Timeout time.Duration
		// On lists event types (subjects, e.g. "orders.created.v1") that trigger
		// the function: one durable JetStream consumer each, shared by all
		// replicas. A function with triggers still answers requests too.
		On []string
		// Schedule runs the function on a timer kept in NATS (a scheduled
		// message in the stream NATSFN_SCHEDULES), not in a replica:
		// "@every 30s"; a cron expression with seconds, "0 */5 * * * *"
		// (or @hourly, @daily, @weekly, @monthly, @yearly); or
		// "@at 2026-12-01T09:00:00Z" for once. Each tick runs once across
		// replicas, like an event (redelivered if its replica dies, dead
		// lettered if it keeps failing). Ticks missed while every replica
		// was down run once, the last one due. In must be time.Time: the
		// second the tick fell due.
		Schedule string
		// TimeZone of a cron Schedule (an IANA name, e.g. "Europe/Paris");
		// default UTC.
		TimeZone string
		// Watch names a key-value bucket whose changes run the function:
		// one invocation per put or delete of a key matching WatchKeys
		// (default ">"), through a durable consumer on the bucket's stream
		// shared by replicas, with an event's guarantees. In must be a
		// Change[T], T the values' type.
		Watch     string
		WatchKeys string
		// Idempotent says the function may run more than once for one event
		// without harm: it decides with compare-and-set and emits with
		// derived ids, so a second run changes and publishes nothing new.
		// The runtime then skips its per-event claim (two KV writes per
		// event) and a redelivery simply runs it again. Leave it false and
		// the runtime runs the function once per logical event, also when a
		// v1 and a v2 copy of the event both reach it.
		Idempotent bool
		// What the function reaches besides its input, declared so a
		// mistake fails at New, not at the first event, and so `natsfn
		// nats-config` can allow exactly this (see the package doc):
		//
		// Result, if set, is the event type the function's output is
		// published as after a successful invocation, e.g.
		// "payment.charged.v1". Emits lists the event types it may Emit.
		// Writes lists the subjects it writes records and schedules to
		// (Put, Schedule, PurgeSchedule; e.g. "order.>"). Each of
		// these must be kept by a stream of the function's own Service.
		Result string
		Emits  []string
		Writes []string
		// Calls lists the request subjects it may Call.
		Calls []string
		// Buckets lists the key-value buckets of its Service it uses (KV).
		Buckets []string
		// Stats, if set, adds function-specific figures (a circuit breaker's
		// state, say) to the endpoint's data in `nats micro stats`.
		Stats func() map[string]any
	}

	// Function is a typed Go function prepared for the runtime: its schemas
	// generated, its validator compiled, its input decoding bound. Build one
	// with Func.
	Function struct {
		FuncConfig
		inType         reflect.Type
		requestSchema  []byte
		responseSchema []byte
		validator      *validator.Schema
		call           func(ctx context.Context, body []byte) (any, error)
		err            error
	}
)

var nameRegexp = regexp.MustCompile(`^[A-Za-z0-9\-_]+$`)

// Func turns fn into a Function. The JSON schemas of In and Out are generated
// now; every request body is validated against In's schema before fn runs, so
// fn only ever sees input that honours the contract.
func Func[In, Out any](cfg FuncConfig, fn func(ctx context.Context, in In) (Out, error)) *Function {
	f := &Function{FuncConfig: cfg}
	if fn == nil {
		f.err = configError("function %q: nil handler", cfg.Name)
		return f
	}
	inType, outType := reflect.TypeFor[In](), reflect.TypeFor[Out]()
	f.inType = inType
	if f.requestSchema, f.err = jsonschema.For(inType); f.err != nil {
		return f
	}
	if f.responseSchema, f.err = jsonschema.For(outType); f.err != nil {
		return f
	}
	f.validator, f.err = compileSchema("natsfn:///"+cfg.Name+"/request.json", f.requestSchema)
	f.call = func(ctx context.Context, body []byte) (any, error) {
		var in In
		if err := json.Unmarshal(body, &in); err != nil {
			// The schema accepted it, so this is a type the schema cannot
			// express (e.g. an int overflow); still the caller's fault.
			return nil, Invalid("invalid request", FieldError{Field: "body", Message: err.Error()})
		}
		return fn(ctx, in)
	}
	return f
}

// RequestSchema is the JSON schema of the function's input.
func (f *Function) RequestSchema() []byte { return f.requestSchema }

// ResponseSchema is the JSON schema of the function's output.
func (f *Function) ResponseSchema() []byte { return f.responseSchema }

// Validate reports a definition that cannot be served.
func (f *Function) Validate() error {
	if f.err != nil {
		if errors.Is(f.err, ErrConfig) {
			return f.err
		}
		return configError("function %q: %v", f.Name, f.err)
	}
	if !nameRegexp.MatchString(f.Name) {
		return configError("function name %q: use letters, digits, '-' and '_'", f.Name)
	}
	if f.Concurrency < 0 {
		return configError("function %q: concurrency must be >= 0 (0 takes the runtime default)", f.Name)
	}
	if f.Timeout < 0 {
		return configError("function %q: timeout must be >= 0 (0 takes the runtime default)", f.Name)
	}
	if f.Schedule != "" {
		if err := checkSchedule(f.Schedule, f.TimeZone); err != nil {
			return configError("function %q: schedule %q: %v", f.Name, f.Schedule, err)
		}
		if f.inType != reflect.TypeFor[time.Time]() {
			return configError("function %q: a scheduled function takes the time its tick fell due: its input must be time.Time, not %v", f.Name, f.inType)
		}
	} else if f.TimeZone != "" {
		return configError("function %q: a time zone without a Schedule", f.Name)
	}
	if f.Watch != "" && !isChange(f.inType) {
		return configError("function %q: a function watching bucket %s takes natsfn.Change[T], not %v", f.Name, f.Watch, f.inType)
	}
	if f.Watch == "" && f.WatchKeys != "" {
		return configError("function %q: watch keys without a Watch bucket", f.Name)
	}
	return nil
}

// terminal is the innermost handler: validate, decode, call, encode.
func (f *Function) terminal(ctx context.Context, inv *rawCall) ([]byte, error) {
	if verr := validateBody(f.validator, inv.Data); verr != nil {
		return nil, verr
	}
	out, err := f.call(ctx, inv.Data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// mayEmit reports whether the function declared eventType.
func (f *Function) mayEmit(eventType string) bool {
	return eventType == f.Result || slices.Contains(f.Emits, eventType)
}
