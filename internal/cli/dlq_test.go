package cli

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
)

type ping struct {
	N int `json:"n"`
}

// TestDLQCommands dead-letters an event and walks it through list, show and
// replay as an operator would.
func TestDLQCommands(t *testing.T) {
	srv := testkit.StartNATS(t)
	url := srv.ClientURL()
	var calls atomic.Int64
	fn := natsfn.Func(natsfn.FuncConfig{Name: "pong", On: []string{"pings.sent.v1"}}, func(ctx context.Context, in ping) (ping, error) {
		if calls.Add(1) == 1 {
			return in, natsfn.Rule("not today")
		}
		return in, nil
	})
	rt, err := natsfn.New(natsfn.Config{URL: url, Logger: nopLogger()}, natsfn.Service{
		Name: "pinger", Version: "1.0.0", Functions: []*natsfn.Function{fn},
		Streams: []natsfn.Stream{{Name: "PINGS", Subjects: []string{"pings.sent.>"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)

	nc := testkit.Connect(t, url)
	js, _ := jetstream.New(nc)
	msg := nats.NewMsg("pings.sent.v1")
	msg.Data = []byte(`{"n":7}`)
	msg.Header.Set("X-Correlation-ID", "corr-dlq")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}

	var out testkit.Buffer
	testkit.Eventually(t, 10*time.Second, "the event shows in `dlq list`", func() bool {
		out = testkit.Buffer{}
		return run(context.Background(), &out, "dlq", "--nats-url", url, "list") == nil && strings.Contains(out.String(), "pinger/pong")
	})
	for _, want := range []string{"ID", "pings.sent.v1", "permanent", "not today"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}

	out = testkit.Buffer{}
	if err := run(context.Background(), &out, "dlq", "--nats-url", url, "list", "--json"); err != nil {
		t.Fatal(err)
	}
	var entry struct {
		ID      uint64          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &entry); err != nil || string(entry.Payload) != `{"n":7}` {
		t.Fatalf("list --json: %v %s", err, out.String())
	}

	out = testkit.Buffer{}
	if err := run(context.Background(), &out, "dlq", "--nats-url", url, "show", "1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"function:    pinger/pong", "X-Correlation-ID: corr-dlq", `"n": 7`, "error:       not today"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), &out, "dlq", "--nats-url", url, "show", "x"); err == nil {
		t.Error("show with a bad id succeeded")
	}

	out = testkit.Buffer{}
	if err := run(context.Background(), &out, "dlq", "--nats-url", url, "replay", "--all"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the replayed event succeeds", func() bool { return calls.Load() == 2 })
	out = testkit.Buffer{}
	if err := run(context.Background(), &out, "dlq", "--nats-url", url, "list"); err != nil || !strings.Contains(out.String(), "no dead letters") {
		t.Fatalf("after replay: %v %s", err, out.String())
	}
}

func TestDLQWithoutStreamSaysWhy(t *testing.T) {
	srv := testkit.StartNATS(t)
	var out testkit.Buffer
	err := run(context.Background(), &out, "dlq", "--nats-url", srv.ClientURL(), "list")
	if err == nil || !strings.Contains(err.Error(), "no dead-letter stream") {
		t.Fatalf("got %v", err)
	}
}
