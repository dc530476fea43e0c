package runtime

import (
	"context"
	"sync"
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
