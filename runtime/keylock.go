package natsfn

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// keyLocks serialises the compare-and-set writers of one key inside this
// process (see Mutate).
var keyLocks = &keyedMutex{locks: map[string]*keyLock{}}

type (
	keyedMutex struct {
		mu    sync.Mutex
		locks map[string]*keyLock
	}
	keyLock struct {
		turn  chan struct{} // holds a token while someone has the key
		users int           // holders and waiters; the entry goes when none are left
	}
)

// lock takes key's lock, or gives up when ctx ends, and returns the unlock.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	l, ok := k.locks[key]
	if !ok {
		l = &keyLock{turn: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	leave := func() {
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.turn <- struct{}{}:
		return func() { <-l.turn; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// LockKeys lets one writer at a time in this process work on these keys of
// kv (in a sorted order, so two callers cannot wait for each other), until
// unlock, or gives up when ctx ends. It is Mutate's lock, for a step that
// compares and sets several keys: writers of the same keys in this process
// take turns instead of losing compare-and-sets to each other; other
// processes are still kept apart by the compare-and-set.
func LockKeys(ctx context.Context, kv jetstream.KeyValue, keys ...string) (unlock func(), err error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = kv.Bucket() + "/" + k
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var unlocks []func()
	unlock = func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	for _, n := range names {
		u, err := keyLocks.lock(ctx, n)
		if err != nil {
			unlock()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return unlock, nil
}

// KeyMsg reads the last message of key in kv: its value, or its delete
// marker with the marker's headers (HeaderReason), and its revision.
// A key that never was, or whose marker expired, returns ErrKeyNotFound.
func KeyMsg(ctx context.Context, kv jetstream.KeyValue, key string) (*jetstream.RawStreamMsg, error) {
	rt := runtimeOf(ctx)
	if rt == nil {
		return nil, errors.New("key: not inside a function or job")
	}
	return lastMsg(ctx, rt, "KV_"+kv.Bucket(), keySubject(kv, key))
}

// Deleted reports whether a key's last message is a delete marker.
func Deleted(m *jetstream.RawStreamMsg) bool {
	op := m.Header.Get(headerKVOp)
	return op == "DEL" || op == "PURGE"
}
