package natsfn

import (
	"sync"
	"sync/atomic"
)

// workers run a function's invocations, at most max at once. A worker is a
// goroutine that lives on once started: a goroutine per invocation would
// grow a fresh stack through the middleware, validation and JSON on every
// call (stack copying was 15% of CPU on trivial functions), while a worker
// keeps the stack it grew. Workers start on demand, so a function nobody
// calls costs nothing, and end when the runtime stops.
type workers struct {
	max  int
	jobs chan func()

	mu      sync.Mutex // orders starting workers
	started atomic.Int32
	idle    atomic.Int32
}

func newWorkers(max int) *workers {
	return &workers{max: max, jobs: make(chan func())}
}

// run hands job to an idle worker, starts one if fewer than max run, or
// waits until one is free.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
		return
	default:
	}
	w.mu.Lock()
	if int(w.started.Load()) < w.max {
		w.started.Add(1)
		w.mu.Unlock()
		go w.work(job)
		return
	}
	w.mu.Unlock()
	w.jobs <- job
}

func (w *workers) work(job func()) {
	for {
		job()
		w.idle.Add(1)
		next, ok := <-w.jobs
		w.idle.Add(-1)
		if !ok {
			w.started.Add(-1)
			return
		}
		job = next
	}
}

// busy counts the workers running an invocation now.
func (w *workers) busy() int { return int(w.started.Load() - w.idle.Load()) }

// stop ends the workers once they are idle; run must not be called after.
func (w *workers) stop() { close(w.jobs) }
