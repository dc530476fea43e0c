package natsfn

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// keyLocks serialises the compare-and-set writers of one key inside this
// process (see LockKeys).
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
// unlock, or gives up when ctx ends: for a step that compares and sets
// one key or several, writers of the same keys in this process
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

// ReadKey reads the last message of key in kv, as a step that must tell a
// deleted key from one never written decides on it: the value and its
// revision; or, for a delete marker, its revision and why it was deleted
// (DeleteKey's reason, else "deleted"). A key that never was, or whose
// marker expired, is jetstream.ErrKeyNotFound.
func ReadKey(ctx context.Context, kv jetstream.KeyValue, key string) (value []byte, rev uint64, deleted string, err error) {
	st := invocationOf(ctx)
	if st == nil {
		return nil, 0, "", errors.New("read key: not inside a function")
	}
	m, err := lastMsg(ctx, st.rt, "KV_"+kv.Bucket(), keySubject(kv, key))
	if err != nil {
		return nil, 0, "", err
	}
	if op := m.Header.Get(headerKVOp); op == "DEL" || op == "PURGE" {
		return nil, m.Sequence, cmp.Or(m.Header.Get(wire.HeaderReason), "deleted"), nil
	}
	return m.Data, m.Sequence, "", nil
}
