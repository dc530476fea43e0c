package deadletter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
)

type stock struct {
	Available int `json:"available"`
}

// A watch trigger's dead letter is listed like an event's, but replaying it
// is refused: it would write the key's old value back.
func TestAKeyChangeIsNotReplayed(t *testing.T) {
	srv := testkit.StartNATS(t)
	refuse := func(ctx context.Context, c natsfn.Change[stock]) (struct{}, error) {
		return struct{}{}, natsfn.Rule("no %s", c.Key)
	}
	log := zerolog.Nop()
	rt, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: &log}, natsfn.Service{Name: "w", Version: "1.0.0",
		Buckets:   []natsfn.Bucket{{Name: "stock"}},
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "refuse", Watch: "stock"}, refuse)}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)
	nc := testkit.Connect(t, srv.ClientURL())
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), "stock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "sku-1", []byte(`{"available":1}`)); err != nil {
		t.Fatal(err)
	}
	var letters []deadletter.Letter
	testkit.Eventually(t, 15*time.Second, "the refused change is a dead letter", func() bool {
		d, err := deadletter.Open(context.Background(), nc)
		if err != nil {
			return false
		}
		letters, err = d.List(context.Background())
		return err == nil && len(letters) == 1
	})
	if letters[0].Subject != "$KV.stock.sku-1" || letters[0].Class != "permanent" {
		t.Errorf("dead letter %+v", letters[0])
	}
	d, _ := deadletter.Open(context.Background(), nc)
	err = d.Replay(context.Background(), letters[0].ID)
	if err == nil || !strings.Contains(err.Error(), "old value") {
		t.Fatalf("replay: %v, want a refusal that says why", err)
	}
	if e, _ := kv.Get(context.Background(), "sku-1"); e == nil || e.Revision() != 1 {
		t.Errorf("the key was written again: %v", e)
	}
}
