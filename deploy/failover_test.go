package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
)

type readIn struct {
	Key string `json:"key" jsonschema:"minLength=1,pattern=^[a-z0-9-]+$"`
}

type readOut struct {
	Value string `json:"value"`
}

// Buckets are read from their stream's leader (no stale reads), so while a
// replicated bucket elects a new leader nobody answers a read. A function
// reading then must get its answer once the new leader is there, not wait
// for its whole timeout on a request nobody will answer.
func TestReadsDuringLeaderFailoverAnswerAfterTheElection(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	cluster := testkit.StartCluster(t)
	_, js := testkit.WaitJetStream(t, cluster.URL())
	read := func(ctx context.Context, in readIn) (readOut, error) {
		kv, err := natsfn.KV(ctx, "failover")
		if err != nil {
			return readOut{}, err
		}
		v, err := natsfn.GetJSON[readOut](ctx, kv, in.Key)
		return v, err
	}
	log := zerolog.Nop()
	rt, err := natsfn.New(natsfn.Config{URL: cluster.URL(), Logger: &log, Timeout: 2 * time.Minute, ReconnectWait: 100 * time.Millisecond,
		Events: natsfn.EventsConfig{Replicas: 3}}, natsfn.Service{
		Name: "failover", Version: "1.0.0", Buckets: []natsfn.Bucket{{Name: "failover"}},
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "read", Buckets: []string{"failover"}}, read)},
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, "failover")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k-1", []byte(`{"value":"v-1"}`)); err != nil {
		t.Fatal(err)
	}
	killStreamLeader(t, cluster, js, "KV_failover")

	// The function's timeout is two minutes; one read waiting for an answer
	// that never comes would take it all. An election takes seconds.
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	nc := testkit.Connect(t, cluster.URL())
	var out readOut
	for {
		out, err = client.Call[readOut](cctx, nc, "failover.read", readIn{Key: "k-1"})
		// If the killed node carried the function's connection, nobody
		// serves it until it reconnects: a caller asks again.
		if err == nil || !strings.Contains(err.Error(), "no function is serving") || cctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || out.Value != "v-1" {
		t.Fatalf("read during failover: %v %+v after %s", err, out, time.Since(start))
	}
	t.Logf("read answered %s after the leader's node was killed", time.Since(start).Round(100*time.Millisecond))
}
