package runtime

import (
	"context"
	"sync/atomic"
)

// slots is the concurrency design of a function in one replica.
//
// A micro endpoint runs its handler serially per subscription and its stats
// time that call. So a function gets N micro endpoints ("slots"), each on a
// private subject with its own subscription: N handlers can run at once and
// each one's stats time a real invocation, so `nats micro stats` adds up.
// In front, one dispatcher subscription on the public subject hands every
// request to a free slot, and waits when none is free. Random queue-group
// choice between the slots themselves would queue a request behind a busy
// slot while another sits idle; the dispatcher never does.
type slots struct {
	free  chan int
	state []atomic.Int32
}

const (
	slotFree int32 = iota
	slotDispatched
	slotRunning
)

func newSlots(n int) *slots {
	s := &slots{free: make(chan int, n), state: make([]atomic.Int32, n)}
	for i := range n {
		s.free <- i
	}
	return s
}

// acquire waits for a free slot, or for ctx to end.
func (s *slots) acquire(ctx context.Context) (int, bool) {
	select {
	case i := <-s.free:
		s.state[i].Store(slotDispatched)
		return i, true
	case <-ctx.Done():
		return -1, false
	}
}

// start marks the slot running. False means the message was not handed out
// by the dispatcher (a direct request, or one that arrived after its slot
// was reclaimed): it is served all the same, but does not own the slot.
func (s *slots) start(i int) bool { return s.state[i].CompareAndSwap(slotDispatched, slotRunning) }

// finish frees a slot that start claimed.
func (s *slots) finish(i int) {
	s.state[i].Store(slotFree)
	s.free <- i
}

// release frees a slot whose message was never sent.
func (s *slots) release(i int) {
	if s.state[i].CompareAndSwap(slotDispatched, slotFree) {
		s.free <- i
	}
}

// reclaim frees slots whose message may have been lost on a broken
// connection, so a server restart cannot leak capacity.
func (s *slots) reclaim() {
	for i := range s.state {
		s.release(i)
	}
}

// running counts invocations in progress.
func (s *slots) running() int {
	n := 0
	for i := range s.state {
		if s.state[i].Load() == slotRunning {
			n++
		}
	}
	return n
}

// idle reports whether every slot is free.
func (s *slots) idle() bool { return len(s.free) == cap(s.free) }
