package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
)

type dueIn struct {
	ID string `json:"id" jsonschema:"pattern=^[a-z0-9-]+$"`
}

// An order's deadline is a scheduled message in a replicated stream, not a
// timer in one process: when the node that leads the stream dies before
// the deadline is due, the new leader fires it.
func TestScheduleFiresAfterItsLeaderIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	cluster := testkit.StartCluster(t)
	_, js := testkit.WaitJetStream(t, cluster.URL())
	schedule := func(ctx context.Context, in dueIn) (struct{}, error) {
		return struct{}{}, natsfn.Schedule(ctx, "due."+in.ID+".timer", time.Now().Add(8*time.Second), "dues.fired.v1", "", in)
	}
	log := zerolog.Nop()
	rt, err := natsfn.New(natsfn.Config{URL: cluster.URL(), Logger: &log, ReconnectWait: 100 * time.Millisecond,
		Events: natsfn.EventsConfig{Replicas: 3}}, natsfn.Service{
		Name: "dues", Version: "1.0.0",
		Streams:   []natsfn.Stream{{Name: "DUES", Subjects: []string{"dues.*.v1", "due.>"}}},
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "schedule", Writes: []string{"due.>"}}, schedule)},
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)
	ctx := context.Background()
	nc := testkit.Connect(t, cluster.URL())
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.Call[struct{}](cctx, nc, "dues.schedule", dueIn{ID: "d-1"}); err != nil {
		t.Fatal(err)
	}
	killStreamLeader(t, cluster, js, "DUES")
	testkit.Eventually(t, 90*time.Second, "the deadline fires on the new leader", func() bool {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := js.Stream(actx, "DUES")
		if err != nil {
			return false
		}
		m, err := s.GetLastMsgForSubject(actx, "dues.fired.v1")
		return err == nil && strings.Contains(string(m.Data), "d-1")
	})
}

// killStreamLeader SIGKILLs the node leading stream, and starts it again
// when the test ends.
func killStreamLeader(t *testing.T, cluster *testkit.Cluster, js jetstream.JetStream, stream string) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("no leader for %s: %v %+v", stream, err, info)
	}
	var leader int
	if _, err := fmt.Sscanf(strings.TrimPrefix(info.Cluster.Leader, "n"), "%d", &leader); err != nil {
		t.Fatalf("leader %q", info.Cluster.Leader)
	}
	cluster.Kill(leader - 1)
	t.Cleanup(func() { cluster.Start(leader - 1) })
}
