package natsfn

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket declares a JetStream key-value bucket a service owns; the runtime
// creates or updates it at start. A function that lists it in
// FuncConfig.Buckets reaches it with KV.
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

// KV returns a bucket of the running function's service, one the
// function lists in its FuncConfig.Buckets.
func KV(ctx context.Context, name string) (jetstream.KeyValue, error) {
	st := invocationOf(ctx)
	if st == nil {
		return nil, fmt.Errorf("bucket %s: not inside a function", name)
	}
	if !slices.Contains(st.fn.Buckets, name) {
		return nil, configError("function %s uses bucket %s, which is not in its FuncConfig.Buckets", st.fn.Name, name)
	}
	kv, ok := st.rt.buckets.Load(name)
	if !ok {
		return nil, configError("bucket %s is not declared in the service's Buckets", name)
	}
	return kv.(jetstream.KeyValue), nil
}
