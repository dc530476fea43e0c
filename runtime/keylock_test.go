package natsfn

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyLockSerialisesOneKeyOnly(t *testing.T) {
	k := &keyedMutex{locks: map[string]*keyLock{}}
	ctx := context.Background()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			unlock, err := k.lock(ctx, "a")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond) // hold the key so the others must wait
			inside.Add(-1)
			unlock()
		})
	}
	// Another key is not held up by "a".
	unlockB, err := k.lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders of one key at once", most.Load())
	}
	if len(k.locks) != 0 {
		t.Fatalf("%d lock entries left behind", len(k.locks))
	}
}

func TestKeyLockWaitEndsWithTheContext(t *testing.T) {
	k := &keyedMutex{locks: map[string]*keyLock{}}
	unlock, _ := k.lock(context.Background(), "a")
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(ctx, "a"); err == nil {
		t.Fatal("took a held key")
	}
	if k.locks["a"].users != 1 {
		t.Fatalf("users %d after a waiter gave up, want 1", k.locks["a"].users)
	}
}
