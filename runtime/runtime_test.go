package natsfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type (
	helloIn struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=50"`
		Times int    `json:"times,omitempty" jsonschema:"minimum=1,maximum=5"`
		ID    string `json:"id,omitempty" jsonschema:"format=uuid"`
	}
	helloOut struct {
		Greeting string `json:"greeting"`
	}
	failIn struct {
		Kind string `json:"kind"`
	}
)

// greeter is the service most tests run: hello greets, fail returns the error
// its input names, and calls counts how often a function body really ran.
func greeter(calls *atomic.Int64) natsfn.Service {
	hello := func(ctx context.Context, in helloIn) (helloOut, error) {
		calls.Add(1)
		natsfn.Logger(ctx).Info().Str("name", in.Name).Msg("greeting")
		return helloOut{Greeting: strings.Repeat("hello "+in.Name+"! ", max(in.Times, 1))}, nil
	}
	fail := func(ctx context.Context, in failIn) (helloOut, error) {
		calls.Add(1)
		switch in.Kind {
		case "notfound":
			return helloOut{}, natsfn.NotFound("no greeting for %q", "bob")
		case "conflict":
			return helloOut{}, natsfn.Conflict("already greeted")
		case "rule":
			return helloOut{}, natsfn.Rule("greetings are closed on Sundays")
		case "unavailable":
			return helloOut{}, natsfn.Unavailable("greeting provider down")
		case "wrapped":
			return helloOut{}, fmt.Errorf("looking up: %w", natsfn.NotFound("gone"))
		case "panic":
			panic("boom")
		default:
			return helloOut{}, errors.New("db password is hunter2")
		}
	}
	return natsfn.Service{
		Name: "greeter", Version: "1.2.3", Description: "Says hello",
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "hello", Description: "Greets someone"}, hello),
			natsfn.Func(natsfn.FuncConfig{Name: "fail", Subject: "greeter.failures"}, fail),
		},
	}
}

func TestDiscoveryPublishesSchemas(t *testing.T) {
	srv := startNATS(t)
	var calls atomic.Int64
	startRuntime(t, srv.ClientURL(), natsfn.Config{Concurrency: 2}, greeter(&calls))
	nc := connectClient(t, srv)

	ping, err := nc.Request("$SRV.PING.greeter", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("PING: %v", err)
	}
	if !strings.Contains(string(ping.Data), `"name":"greeter"`) {
		t.Fatalf("PING reply: %s", ping.Data)
	}

	msg, err := nc.Request("$SRV.INFO.greeter", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	var info micro.Info
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "1.2.3" || info.Description != "Says hello" {
		t.Fatalf("info: %+v", info.ServiceIdentity)
	}
	// Each function is one endpoint: the subject a caller uses, micro's
	// queue group, and its schemas.
	byName := map[string][]micro.EndpointInfo{}
	for _, e := range info.Endpoints {
		byName[e.Name] = append(byName[e.Name], e)
	}
	for name, subject := range map[string]string{"hello": "greeter.hello", "fail": "greeter.failures"} {
		if len(byName[name]) != 1 {
			t.Fatalf("%s: %d endpoints, want 1", name, len(byName[name]))
		}
		if e := byName[name][0]; e.Subject != subject || e.QueueGroup != micro.DefaultQueueGroup || e.Metadata["concurrency"] != "2" {
			t.Errorf("%s: subject %q queue group %q concurrency %q; want %q in %q, 2", name, e.Subject, e.QueueGroup, e.Metadata["concurrency"], subject, micro.DefaultQueueGroup)
		}
	}
	e := byName["hello"][0]
	var req, resp map[string]any
	if err := json.Unmarshal([]byte(e.Metadata["request_schema"]), &req); err != nil {
		t.Fatalf("request_schema: %v", err)
	}
	if err := json.Unmarshal([]byte(e.Metadata["response_schema"]), &resp); err != nil {
		t.Fatalf("response_schema: %v", err)
	}
	if req["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("request schema dialect: %v", req["$schema"])
	}
	props, _ := req["properties"].(map[string]any)
	if _, ok := props["name"]; !ok {
		t.Errorf("request schema lacks name: %v", req)
	}
	if _, ok := resp["properties"].(map[string]any)["greeting"]; !ok {
		t.Errorf("response schema lacks greeting: %v", resp)
	}
	// The subject info names is the function, validation included: what a
	// newcomer would copy into `nats req`.
	reply, err := nc.Request(e.Subject, []byte(`{"name":""}`), 2*time.Second)
	if err != nil || reply.Header.Get(micro.ErrorCodeHeader) != "400" {
		t.Fatalf("request to %s: %v %v", e.Subject, err, reply)
	}
	if out, err := client.Call[helloOut](context.Background(), nc, e.Subject, helloIn{Name: "newcomer"}); err != nil || out.Greeting == "" {
		t.Fatalf("request to %s: %v %+v", e.Subject, err, out)
	}
}

func TestRequestReplyAndStats(t *testing.T) {
	srv := startNATS(t)
	var calls atomic.Int64
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, greeter(&calls))
	nc := connectClient(t, srv)
	ctx := context.Background()

	for i := range 5 {
		out, err := client.Call[helloOut](ctx, nc, "greeter.hello", helloIn{Name: "ada", Times: 1 + i%2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.Greeting, "hello ada!") {
			t.Fatalf("greeting = %q", out.Greeting)
		}
	}
	for range 3 {
		if _, err := client.Call[helloOut](ctx, nc, "greeter.failures", failIn{Kind: "conflict"}); err == nil {
			t.Fatal("want an error")
		}
	}
	// One invalid request: counted as a request and an error, never run.
	if _, err := client.Call[helloOut](ctx, nc, "greeter.hello", map[string]any{"name": ""}); err == nil {
		t.Fatal("want a validation error")
	}

	if proc := statsSettle(t, nc, "greeter", "hello", 6, 1); proc <= 0 {
		t.Errorf("hello processing time %s", proc)
	}
	statsSettle(t, nc, "greeter", "fail", 3, 3)
	if calls.Load() != 8 {
		t.Errorf("function bodies ran %d times, want 8 (the invalid request must not run)", calls.Load())
	}
}

func TestInvalidInputIs400WithFields(t *testing.T) {
	srv := startNATS(t)
	var calls atomic.Int64
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, greeter(&calls))
	nc := connectClient(t, srv)

	cases := []struct {
		name, body, field, says string
	}{
		{"empty body", ``, "body", "empty"},
		{"blank body", "  \n", "body", "empty"},
		{"malformed JSON", `{"name": "ada"`, "body", "not valid JSON"},
		{"trailing garbage", `{"name": "ada"} x`, "body", "not valid JSON"},
		{"not an object", `[1,2]`, "body", "must be object"},
		{"wrong type", `{"name": 42}`, "name", "must be string"},
		{"missing field", `{}`, "name", "is required"},
		{"unknown field", `{"name": "ada", "nmae": "x"}`, "nmae", "not a known field"},
		{"too short", `{"name": ""}`, "name", "minLength"},
		{"out of range", `{"name": "ada", "times": 9}`, "times", "maximum"},
		{"bad format", `{"name": "ada", "id": "not-a-uuid"}`, "id", "uuid"},
		{"int overflow", `{"name": "ada", "times": 1e400}`, "times", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := nc.Request("greeter.hello", []byte(c.body), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code := msg.Header.Get(micro.ErrorCodeHeader); code != "400" {
				t.Fatalf("code = %q (%s), want 400", code, msg.Data)
			}
			var body natsfn.Error
			if err := json.Unmarshal(msg.Data, &body); err != nil {
				t.Fatalf("error body is not JSON: %s", msg.Data)
			}
			found := false
			for _, d := range body.Details {
				if d.Field == c.field && strings.Contains(d.Message, c.says) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want a detail for field %q saying %q, got %s", c.field, c.says, msg.Data)
			}
		})
	}
	if calls.Load() != 0 {
		t.Fatalf("the function ran %d times on invalid input", calls.Load())
	}
}

func TestTypedErrorsKeepTheirCode(t *testing.T) {
	srv := startNATS(t)
	var calls atomic.Int64
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{}, greeter(&calls))
	nc := connectClient(t, srv)

	cases := map[string]struct {
		code     int
		sentinel error
		message  string
	}{
		"notfound":    {404, natsfn.NotFound(""), `no greeting for "bob"`},
		"conflict":    {409, natsfn.Conflict(""), "already greeted"},
		"rule":        {422, natsfn.Rule(""), "greetings are closed on Sundays"},
		"unavailable": {503, natsfn.Unavailable(""), "greeting provider down"},
		"wrapped":     {404, natsfn.NotFound(""), "gone"},
		"plain":       {500, &natsfn.Error{Code: http.StatusInternalServerError}, "internal error"},
		"panic":       {500, &natsfn.Error{Code: http.StatusInternalServerError}, "internal error"},
	}
	for kind, want := range cases {
		t.Run(kind, func(t *testing.T) {
			_, err := client.Call[helloOut](context.Background(), nc, "greeter.failures", failIn{Kind: kind})
			e := asError(t, err)
			if e.Code != want.code || e.Message != want.message || !errors.Is(err, want.sentinel) {
				t.Fatalf("got %d %q, want %d %q", e.Code, e.Message, want.code, want.message)
			}
		})
	}
	// The generic 500 hides the cause from the caller but the log has it.
	found := false
	for _, l := range r.logs.JSONLines() {
		if l["code"] == float64(500) && strings.Contains(fmt.Sprint(l["cause"]), "hunter2") {
			found = true
		}
	}
	if !found {
		t.Fatal("the cause of a 500 is not in the log")
	}
}

func TestNoRespondersAndTimeoutsAreTyped(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	_, err := client.Call[helloOut](context.Background(), nc, "nobody.home", helloIn{Name: "x"})
	if e := asError(t, err); e.Code != 503 {
		t.Fatalf("no responders: %v", err)
	}

	slow := natsfn.Func(natsfn.FuncConfig{Name: "slow", Timeout: 50 * time.Millisecond},
		func(ctx context.Context, in helloIn) (helloOut, error) {
			<-ctx.Done() // a well-behaved function stops when its context ends
			return helloOut{}, ctx.Err()
		})
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "slowpoke", Version: "0.1.0", Functions: []*natsfn.Function{slow}})
	_, err = client.Call[helloOut](context.Background(), nc, "slowpoke.slow", helloIn{Name: "x"})
	if e := asError(t, err); e.Code != 504 {
		t.Fatalf("function timeout: %v", err)
	}
}

func TestCorrelationIDTravels(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	events, err := nc.SubscribeSync("greetings.sent")
	if err != nil {
		t.Fatal(err)
	}
	send := natsfn.Func(natsfn.FuncConfig{Name: "send", Emits: []string{"greetings.sent"}}, func(ctx context.Context, in helloIn) (helloOut, error) {
		natsfn.Logger(ctx).Info().Msg("sending")
		return helloOut{Greeting: "sent"}, natsfn.Emit(ctx, "greetings.sent", "", in)
	})
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "mailer", Version: "1.0.0", Functions: []*natsfn.Function{send},
		Streams: []natsfn.Stream{{Name: "GREETINGS", Subjects: []string{"greetings.>"}}}})

	// Given: the id travels from the caller.
	ctx := client.WithCorrelationID(context.Background(), "corr-123")
	msg := nats.NewMsg("mailer.send")
	msg.Header.Set(wire.HeaderCorrelationID, "corr-123")
	msg.Data = []byte(`{"name":"ada"}`)
	reply, err := nc.RequestMsgWithContext(ctxWithTimeout(t, ctx), msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := reply.Header.Get(wire.HeaderCorrelationID); got != "corr-123" {
		t.Errorf("reply correlation id = %q", got)
	}
	ev, err := events.NextMsg(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Header.Get(wire.HeaderCorrelationID); got != "corr-123" {
		t.Errorf("published message correlation id = %q", got)
	}
	var fnLine, invLine bool
	for _, l := range r.logs.JSONLines() {
		if l["correlation_id"] != "corr-123" || l["function"] != "send" || l["service"] != "mailer" || l["instance"] == nil {
			continue
		}
		fnLine = fnLine || l["message"] == "sending"
		invLine = invLine || (l["message"] == "invocation" && l["outcome"] == "ok" && l["duration_ms"] != nil)
	}
	if !fnLine || !invLine {
		t.Errorf("log lines with the correlation id: function=%v invocation=%v\n%v", fnLine, invLine, r.logs.JSONLines())
	}

	// Without one, the runtime makes one and answers with it.
	reply, err = nc.Request("mailer.send", []byte(`{"name":"bob"}`), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Header.Get(wire.HeaderCorrelationID) == "" {
		t.Error("no correlation id generated")
	}
}

func ctxWithTimeout(t *testing.T, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidation(t *testing.T) {
	bad := natsfn.Func(natsfn.FuncConfig{Name: "no spaces"}, func(context.Context, helloIn) (helloOut, error) { return helloOut{}, nil })
	good := natsfn.Func(natsfn.FuncConfig{Name: "ok"}, func(context.Context, helloIn) (helloOut, error) { return helloOut{}, nil })
	cases := map[string]struct {
		cfg  natsfn.Config
		svcs []natsfn.Service
		want string
	}{
		"bad function name": {natsfn.Config{}, []natsfn.Service{{Name: "s", Version: "1.0.0", Functions: []*natsfn.Function{bad}}}, "function name"},
		"bad version":       {natsfn.Config{}, []natsfn.Service{{Name: "s", Version: "one", Functions: []*natsfn.Function{good}}}, "semantic version"},
		"no functions":      {natsfn.Config{}, []natsfn.Service{{Name: "s", Version: "1.0.0"}}, "no functions"},
		"negative conc":     {natsfn.Config{Concurrency: -1}, nil, "concurrency"},
		"stream captures a request subject": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{good}, Streams: []natsfn.Stream{{Name: "A", Subjects: []string{"a.>"}}}},
		}, "captured by stream A"},
		"same subject twice": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{good}},
			{Name: "b", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Subject: "a.ok"})}},
		}, "used by"},
		// A dependency a function declares and its service does not
		// provide fails here, not at the first event.
		"bucket not owned": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Buckets: []string{"stock"}})}},
		}, `uses bucket "stock"`},
		"event kept by no stream": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Emits: []string{"a.done.v1"}})},
				Streams: []natsfn.Stream{{Name: "B", Subjects: []string{"b.*.v1"}}}},
		}, "publishes a.done.v1"},
		"result kept by no stream": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Result: "a.done.v1"})}},
		}, "publishes a.done.v1"},
		"record kept by no stream": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Writes: []string{"rec.>"}})}},
		}, "publishes rec.>"},
		"stream of another service": {natsfn.Config{}, []natsfn.Service{
			{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Emits: []string{"b.done.v1"}})}},
			{Name: "b", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "y"})},
				Streams: []natsfn.Stream{{Name: "B", Subjects: []string{"b.*.v1"}}}},
		}, "publishes b.done.v1"},
		"events config":    {natsfn.Config{Events: natsfn.EventsConfig{MaxDeliver: -1}}, nil, "max deliver"},
		"nil handler":      {natsfn.Config{}, []natsfn.Service{{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{natsfn.Func[helloIn, helloOut](natsfn.FuncConfig{Name: "x"}, nil)}}}, "nil handler"},
		"service twice":    {natsfn.Config{}, []natsfn.Service{{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{good}}, {Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{good}}}, "given twice"},
		"function twice":   {natsfn.Config{}, []natsfn.Service{{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{good, good}}}, "defined twice"},
		"negative timeout": {natsfn.Config{}, []natsfn.Service{{Name: "a", Version: "1.0.0", Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Timeout: -1})}}}, "timeout"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := natsfn.New(c.cfg, c.svcs...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error about %q", err, c.want)
			}
			if !errors.Is(err, natsfn.ErrConfig) {
				t.Errorf("%v does not wrap ErrConfig", err)
			}
		})
	}
	// Declared and provided: accepted.
	_, err := natsfn.New(natsfn.Config{}, natsfn.Service{Name: "a", Version: "1.0.0",
		Streams: []natsfn.Stream{{Name: "A", Subjects: []string{"a.*.v1", "rec.>"}}}, Buckets: []natsfn.Bucket{{Name: "stock"}},
		Functions: []*natsfn.Function{uses(natsfn.FuncConfig{Name: "x", Buckets: []string{"stock"}, Result: "a.done.v1",
			Emits: []string{"a.failed.v1"}, Writes: []string{"rec.>"}, Calls: []string{"b.y"}})}})
	if err != nil {
		t.Errorf("a service that provides what its function declares: %v", err)
	}
}

// An undeclared use fails the invocation with an ErrConfig error naming
// the declaration it lacks, and reaches nothing.
func TestUndeclaredUsesAreRefused(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	uses := map[string]func(ctx context.Context) error{
		"emit": func(ctx context.Context) error { return natsfn.Emit(ctx, "a.done.v1", "", helloIn{}) },
		"put":  func(ctx context.Context) error { _, err := natsfn.Put(ctx, "rec.1", helloIn{}, 0); return err },
		"call": func(ctx context.Context) error {
			_, err := natsfn.Call[helloOut](ctx, "a.other", helloIn{})
			return err
		},
		"bucket": func(ctx context.Context) error { _, err := natsfn.KV(ctx, "stock"); return err },
		"schedule": func(ctx context.Context) error {
			return natsfn.Schedule(ctx, "rec.1.due", time.Now().Add(time.Hour), "a.due.v1", "", helloIn{})
		},
	}
	var fns []*natsfn.Function
	errs := map[string]chan error{}
	for name, use := range uses {
		errs[name] = make(chan error, 1)
		fns = append(fns, natsfn.Func(natsfn.FuncConfig{Name: name}, func(ctx context.Context, in helloIn) (helloOut, error) {
			err := use(ctx)
			errs[name] <- err
			return helloOut{}, err
		}))
	}
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "a", Version: "1.0.0", Functions: fns,
		Streams: []natsfn.Stream{{Name: "A", Subjects: []string{"a.*.v1", "rec.>"}}}, Buckets: []natsfn.Bucket{{Name: "stock"}}})
	for name := range uses {
		t.Run(name, func(t *testing.T) {
			_, err := client.Call[helloOut](context.Background(), nc, "a."+name, helloIn{Name: "x"})
			if e := asError(t, err); e.Code != http.StatusInternalServerError {
				t.Errorf("caller got %v, want a 500", err)
			}
			if err := <-errs[name]; !errors.Is(err, natsfn.ErrConfig) || !strings.Contains(err.Error(), "FuncConfig.") {
				t.Errorf("inside the function: %v, want an ErrConfig naming the FuncConfig field", err)
			}
		})
	}
}

// uses is a function that only declares: its handler does nothing.
func uses(cfg natsfn.FuncConfig) *natsfn.Function {
	return natsfn.Func(cfg, func(context.Context, helloIn) (helloOut, error) { return helloOut{}, nil })
}
