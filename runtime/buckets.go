package natsfn

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket declares a JetStream key-value bucket a service owns; the runtime
// creates or updates it at start. Functions reach it with KV.
type Bucket struct {
	Name    string
	History uint8         // revisions kept per key; default 1
	TTL     time.Duration // how long a key lives after its last write; 0 keeps it
}

func (rt *Runtime) declareBuckets(ctx context.Context) error {
	for _, def := range rt.services {
		for _, b := range def.Buckets {
			if _, ok := rt.buckets.Load(b.Name); ok {
				continue
			}
			kv, err := rt.declareBucket(ctx, "bucket "+b.Name+" of "+def.Name, jetstream.KeyValueConfig{
				Bucket:   b.Name,
				History:  max(b.History, 1),
				TTL:      b.TTL,
				Storage:  jetstream.FileStorage,
				Replicas: rt.cfg.Events.Replicas,
			})
			if err != nil {
				return err
			}
			rt.buckets.Store(b.Name, kv)
		}
	}
	return nil
}

// KV returns a bucket declared by the service of the running function.
func KV(ctx context.Context, name string) (jetstream.KeyValue, error) {
	st := invocationOf(ctx)
	rt, _ := ctx.Value(runtimeKey).(*Runtime)
	if st == nil && rt == nil {
		return nil, fmt.Errorf("bucket %s: not inside a function or job", name)
	}
	if rt == nil {
		rt = st.rt
	}
	kv, ok := rt.buckets.Load(name)
	if !ok {
		return nil, fmt.Errorf("bucket %s is not declared in the service's Buckets", name)
	}
	return kv.(jetstream.KeyValue), nil
}

// JetStream returns the runtime's JetStream context, inside a function or job.
func JetStream(ctx context.Context) jetstream.JetStream {
	if st := invocationOf(ctx); st != nil {
		return st.rt.js
	}
	if rt, ok := ctx.Value(runtimeKey).(*Runtime); ok {
		return rt.js
	}
	return nil
}
