package embedded_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// Without a StoreDir every server starts empty, and its directory goes
// when it shuts down (nats-server alone would share one directory).
func TestWithoutStoreDirEachServerStartsEmpty(t *testing.T) {
	for run := range 2 {
		srv, err := embedded.Start(embedded.Config{})
		if err != nil {
			t.Fatal(err)
		}
		dir := srv.JetStreamConfig().StoreDir
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := js.Stream(ctx, "LEFTOVER"); err == nil {
			t.Errorf("run %d found the stream of an earlier server", run)
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LEFTOVER", Subjects: []string{"left.>"}}); err != nil {
			t.Fatal(err)
		}
		cancel()
		nc.Close()
		srv.Shutdown()
		testkit.Eventually(t, 10*time.Second, dir+" is removed after shutdown", func() bool {
			_, err := os.Stat(dir)
			return os.IsNotExist(err)
		})
	}
}
