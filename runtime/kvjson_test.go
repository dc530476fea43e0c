package natsfn_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
)

type keyIn struct {
	Key string `json:"key"` // deliberately unchecked: the runtime is the last line
}

// A function that makes a KV key of unchecked caller input still answers a
// hostile key with a 400, through the helpers and through direct bucket
// calls alike: JetStream's "invalid key" is the caller's fault, not a 500.
func TestInvalidKeysAreClientErrors(t *testing.T) {
	srv := startNATS(t)
	const bucket = "keys"
	read := func(ctx context.Context, in keyIn) (helloOut, error) {
		kv, err := natsfn.KV(ctx, bucket)
		if err != nil {
			return helloOut{}, err
		}
		v, err := natsfn.GetJSON[helloOut](ctx, kv, "k."+in.Key)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return helloOut{}, err
		}
		return v, nil
	}
	write := func(ctx context.Context, in keyIn) (helloOut, error) {
		kv, err := natsfn.KV(ctx, bucket)
		if err != nil {
			return helloOut{}, err
		}
		_, err = kv.Put(ctx, "k."+in.Key, []byte(`{}`))
		return helloOut{}, err
	}
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{
		Name: "keys", Version: "1.0.0", Buckets: []natsfn.Bucket{{Name: bucket}},
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "read", Buckets: []string{bucket}}, read),
			natsfn.Func(natsfn.FuncConfig{Name: "write", Buckets: []string{bucket}}, write),
		},
	})
	nc := connectClient(t, srv)
	for _, subject := range []string{"keys.read", "keys.write"} {
		for _, key := range []string{"*", ">", "a b", "", "a..b", "\x00"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := client.Call[helloOut](ctx, nc, subject, keyIn{Key: key})
			cancel()
			e := asError(t, err)
			if e.Code != http.StatusBadRequest || len(e.Details) == 0 || e.Details[0].Field == "" {
				t.Errorf("%s with key %q: %d %s; want a 400 naming the field", subject, key, e.Code, e)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := client.Call[helloOut](ctx, nc, subject, keyIn{Key: "fine-1"}); err != nil {
			t.Errorf("%s with a good key: %v", subject, err)
		}
		cancel()
	}
}

// Buckets are the runtime's own streams: on an R3 bucket a direct get may
// be answered by a lagging replica, and a step deciding on a stale read
// decides wrongly (chaos on a cluster found an order committed while a
// stale read said its stock was still being held), so replicated buckets
// are read from their leader (deploy's cluster test checks it). With one
// replica direct gets are consistent and much cheaper: they stay on. A
// bucket made before by nats.go is taken over (rollups, the duplicates
// window, per-message TTLs).
func TestBucketsAreTheRuntimesStreams(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "old"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	svc := greeter(&calls)
	svc.Buckets = []natsfn.Bucket{{Name: "old"}, {Name: "new", History: 3, TTL: time.Hour}}
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, svc)
	for _, b := range []string{"old", "new"} {
		s, err := js.Stream(ctx, "KV_"+b)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := s.CachedInfo().Config; !cfg.AllowDirect || !cfg.AllowRollup || !cfg.DenyDelete || cfg.Discard != jetstream.DiscardNew || !cfg.AllowMsgTTL || cfg.Duplicates != 10*time.Minute { // the default window
			t.Fatalf("bucket %s: allow direct %v, rollup %v, deny delete %v, discard %v, TTLs %v, duplicates %v", b, cfg.AllowDirect, cfg.AllowRollup, cfg.DenyDelete, cfg.Discard, cfg.AllowMsgTTL, cfg.Duplicates)
		}
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Fatalf("bucket %s is no longer a bucket: %v", b, err)
		}
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := js.KeyValue(ctx, "new"); st != nil {
		status, _ := st.Status(ctx)
		if status.History() != 3 || status.TTL() != time.Hour {
			t.Fatalf("bucket new: history %d, ttl %s", status.History(), status.TTL())
		}
	}
}

// A replica declaring streams and buckets that are already as it wants
// them leaves them alone: replicas start together, and nats-server races a
// stream update against a consumer being created on it.
func TestDeclaringAgainChangesNothing(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	updates, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.STREAM.UPDATED.>")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	svc := greeter(&calls)
	svc.Buckets = []natsfn.Bucket{{Name: "again", TTL: time.Hour}}
	svc.Streams = []natsfn.Stream{{Name: "AGAIN", Subjects: []string{"again.>"}}}
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, svc)
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, svc)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := updates.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("a second replica updated a stream: %s", m.Data)
	}
}
