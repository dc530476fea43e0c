package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"
)

// Runtime serves functions on NATS: one micro service instance per Service,
// an admin HTTP server, and a graceful shutdown.
type Runtime struct {
	cfg      Config
	services []Service
	log      zerolog.Logger
	metrics  *Metrics

	nc    *nats.Conn // set once in Run before any subscription exists
	ncPtr atomic.Pointer[nats.Conn]
	// dc carries the dispatchers and the events handed to slots. A separate
	// connection is not for speed: nats-server's allow_responses lets a
	// connection answer a reply subject only if that reply reached it once,
	// and a hand-off on the same connection spends that right.
	dc       *nats.Conn
	js       jetstream.JetStream
	claims   *claims
	watcher  *advisoryWatcher
	buckets  sync.Map // name -> jetstream.KeyValue
	jobs     sync.WaitGroup
	micros   []micro.Service
	mu       sync.RWMutex
	bindings map[string]*binding // by "service/function"

	connected  atomic.Bool
	registered atomic.Bool
	stopping   atomic.Bool
	readyCh    chan struct{}

	// invokeCtx is the parent of every invocation's context; cancelled when
	// the shutdown deadline passes. hardStop ends waits for a slot.
	invokeCtx context.Context
	hardStop  context.Context
	cancel    context.CancelFunc

	admin   *http.Server
	adminLn net.Listener
}

// New checks the configuration and the services; nothing connects until Run.
func New(cfg Config, services ...Service) (*Runtime, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime config: %w", err)
	}
	names := map[string]bool{}
	subjects := map[string]string{}
	var errs []error
	for _, s := range services {
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("service %q given twice", s.Name))
		}
		names[s.Name] = true
		for _, f := range s.Functions {
			subj := s.subject(f)
			if other, dup := subjects[subj]; dup {
				errs = append(errs, fmt.Errorf("subject %q is used by %s and %s/%s", subj, other, s.Name, f.Name))
			}
			subjects[subj] = s.Name + "/" + f.Name
		}
	}
	errs = append(errs, streamsCaptureRequests(services))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{
		cfg:       cfg,
		services:  services,
		log:       *cfg.Logger,
		metrics:   cfg.Metrics,
		bindings:  map[string]*binding{},
		readyCh:   make(chan struct{}),
		invokeCtx: ctx,
		hardStop:  ctx,
		cancel:    cancel,
	}, nil
}

// Run connects, registers every function and serves until ctx ends; then it
// shuts down gracefully and returns nil if everything finished in time.
func (rt *Runtime) Run(ctx context.Context) error {
	defer rt.cancel()
	if rt.cfg.AdminAddr != "" {
		if err := rt.startAdmin(); err != nil {
			return err
		}
	}
	nc, err := connect(ctx, &rt.cfg, rt.log, rt.metrics, rt.onReconnect)
	if err != nil {
		rt.stopAdmin()
		if ctx.Err() != nil {
			return nil // asked to stop before NATS was ever reached
		}
		return fmt.Errorf("connect to NATS at %s: %w", rt.cfg.URL, err)
	}
	dcfg := rt.cfg
	dcfg.Name += "-dispatch"
	dc, err := connect(ctx, &dcfg, rt.log, rt.metrics, rt.onReconnect)
	if err != nil {
		nc.Close()
		rt.stopAdmin()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to NATS at %s: %w", rt.cfg.URL, err)
	}
	rt.nc, rt.dc = nc, dc
	rt.ncPtr.Store(nc)
	if rt.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		dc.Close()
		return err
	}
	rt.connected.Store(true)
	if err := rt.register(ctx); err != nil {
		nc.Close()
		dc.Close()
		rt.stopAdmin()
		if ctx.Err() != nil {
			return nil // asked to stop while still starting
		}
		return err
	}
	rt.registered.Store(true)
	jobsCtx, stopJobs := context.WithCancel(rt.invokeCtx)
	rt.runJobs(jobsCtx)
	close(rt.readyCh)
	rt.log.Info().Int("services", len(rt.services)).Int("functions", len(rt.bindings)).Msg("serving")

	<-ctx.Done()
	stopJobs()
	rt.jobs.Wait()
	return rt.shutdown()
}

func (rt *Runtime) register(runCtx context.Context) error {
	if err := rt.declare(runCtx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(rt.invokeCtx, 30*time.Second)
	defer cancel()
	for _, def := range rt.services {
		cfg := micro.Config{
			Name:        def.Name,
			Version:     def.Version,
			Description: def.Description,
			Metadata:    def.Metadata,
			StatsHandler: func(e *micro.Endpoint) any {
				if b := rt.binding(def.Name, e.Name); b != nil {
					return b.stats()
				}
				return nil
			},
		}
		svc, err := micro.AddService(rt.nc, cfg)
		if err != nil {
			return fmt.Errorf("service %s: %w", def.Name, err)
		}
		rt.micros = append(rt.micros, svc)
		for _, fn := range def.Functions {
			b, err := rt.bind(svc, def, fn)
			if err != nil {
				return fmt.Errorf("service %s: %w", def.Name, err)
			}
			rt.mu.Lock()
			rt.bindings[def.Name+"/"+fn.Name] = b
			rt.mu.Unlock()
		}
	}
	// Make sure the server has every subscription before events flow in.
	if err := rt.nc.Flush(); err != nil {
		return err
	}
	if err := rt.dc.Flush(); err != nil {
		return err
	}
	return rt.startTriggers(ctx)
}

// declare creates the streams and buckets, retrying with backoff while
// JetStream cannot place them yet (a cluster still forming, a leader being
// elected): a replica that starts early waits, rather than crash-looping.
// A configuration JetStream refuses for good (an APIError other than 503)
// stops the start at once.
func (rt *Runtime) declare(ctx context.Context) error {
	const declareAttempt = 3 * time.Second
	policy := retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return err != nil && infrastructure(err) }).
		WithMaxRetries(-1).
		WithBackoff(rt.cfg.ConnectBackoffMin, rt.cfg.ConnectBackoffMax).
		WithJitterFactor(0.2).
		OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[any]) {
			rt.log.Warn().AnErr("cause", e.LastError()).Dur("retry_in", e.Delay).Msg("JetStream cannot create streams and buckets yet; retrying")
		}).Build()
	return failsafe.With(policy).WithContext(ctx).Run(func() error {
		// Short attempts: when replicas declare the same R3 stream at once,
		// some requests get no answer at all (the stream is being created by
		// another's request); the next attempt finds it and moves on. Every
		// declaration is create-or-update, so an attempt may redo them all.
		dctx, cancel := context.WithTimeout(ctx, declareAttempt)
		defer cancel()
		if err := rt.declareEvents(dctx); err != nil {
			return err
		}
		return rt.declareBuckets(dctx)
	})
}

// usesEvents reports whether any service declares streams, triggers or
// result events, and so needs the dead-letter and claim machinery.
func (rt *Runtime) usesEvents() bool {
	for _, s := range rt.services {
		if len(s.Streams) > 0 {
			return true
		}
		for _, f := range s.Functions {
			if len(f.On) > 0 || f.Result != "" {
				return true
			}
		}
	}
	return false
}

// declareEvents creates or updates the streams the services declare, the
// dead-letter stream, the claims bucket and the advisory watcher.
func (rt *Runtime) declareEvents(ctx context.Context) error {
	if !rt.usesEvents() {
		return nil
	}
	ev := rt.cfg.Events
	declared := map[string]bool{}
	for _, def := range rt.services {
		for _, st := range def.Streams {
			if declared[st.Name] {
				continue
			}
			declared[st.Name] = true
			_, err := rt.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name:       st.Name,
				Subjects:   st.Subjects,
				Storage:    jetstream.FileStorage,
				Replicas:   ev.Replicas,
				MaxAge:     cmp.Or(st.MaxAge, ev.MaxAge),
				Duplicates: ev.Duplicates,
			})
			if err != nil {
				return fmt.Errorf("stream %s: %w", st.Name, err)
			}
		}
	}
	if _, err := rt.js.CreateOrUpdateStream(ctx, deadLetterStreamConfig(ev)); err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	kv, err := rt.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ClaimsBucket,
		Description: "natsfn: which logical events each function has started and finished",
		TTL:         ev.Duplicates,
		Storage:     jetstream.FileStorage,
		Replicas:    ev.Replicas,
	})
	if err != nil {
		return fmt.Errorf("claims bucket: %w", err)
	}
	rt.claims = &claims{kv: kv, staleAfter: ev.AckWait}
	return nil
}

func (rt *Runtime) startTriggers(ctx context.Context) error {
	for _, def := range rt.services {
		for _, fn := range def.Functions {
			b := rt.binding(def.Name, fn.Name)
			for _, subject := range fn.On {
				t, err := rt.newTrigger(ctx, b, subject)
				if err != nil {
					return err
				}
				b.triggers = append(b.triggers, t)
			}
		}
	}
	var all []*trigger
	for _, b := range rt.bindings {
		all = append(all, b.triggers...)
	}
	if len(all) == 0 {
		return nil
	}
	w, err := rt.startAdvisoryWatcher(ctx, all)
	if err != nil {
		return err
	}
	rt.watcher = w
	for _, t := range all {
		if err := t.start(); err != nil {
			return err
		}
	}
	return nil
}

// storeDeadLetter writes d to the dead-letter stream and counts it.
func (rt *Runtime) storeDeadLetter(d DeadLetter) error {
	ctx, cancel := context.WithTimeout(rt.invokeCtx, 10*time.Second)
	defer cancel()
	if _, err := rt.js.PublishMsg(ctx, d.msg()); err != nil {
		return err
	}
	rt.metrics.deadLetters(d.Service, d.Function, d.Class).Inc()
	return nil
}

func (rt *Runtime) binding(service, function string) *binding {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.bindings[service+"/"+function]
}

func (rt *Runtime) onReconnect() {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	for _, b := range rt.bindings {
		b.slots.reclaim()
	}
}

// shutdown stops taking work, lets in-flight invocations finish within the
// deadline, then unregisters and closes.
func (rt *Runtime) shutdown() error {
	rt.stopping.Store(true)
	deadline := time.Now().Add(rt.cfg.ShutdownTimeout)
	rt.log.Info().Dur("deadline", rt.cfg.ShutdownTimeout).Msg("shutting down: draining requests")

	for _, b := range rt.bindings {
		if err := b.sub.Drain(); err != nil {
			rt.log.Warn().AnErr("cause", err).Str("function", b.fn.Name).Msg("cannot drain dispatcher")
		}
		for _, t := range b.triggers {
			t.drain()
		}
	}
	if rt.watcher != nil {
		rt.watcher.stop()
	}
	clean := waitUntil(deadline, func() bool {
		for _, b := range rt.bindings {
			if !b.drained() {
				return false
			}
		}
		return rt.watcher == nil || rt.watcher.stopped() || !rt.nc.IsConnected()
	})
	if !clean {
		rt.log.Warn().Msg("shutdown deadline passed; cancelling invocations still running")
	}
	rt.cancel()
	for _, svc := range rt.micros {
		if err := svc.Stop(); err != nil {
			rt.log.Warn().AnErr("cause", err).Str("service", svc.Info().Name).Msg("cannot stop service")
		}
	}
	drainConn(rt.dc, max(time.Until(deadline), time.Second))
	drainConn(rt.nc, max(time.Until(deadline), time.Second))
	rt.stopAdmin()
	rt.log.Info().Bool("clean", clean).Msg("stopped")
	if !clean {
		return errors.New("shutdown deadline passed with invocations still running")
	}
	return nil
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(deadline time.Time, cond func() bool) bool {
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Ready reports whether the runtime is connected, has registered every
// function and is not shutting down: what /readyz answers.
func (rt *Runtime) Ready() bool {
	nc := rt.ncPtr.Load()
	return rt.connected.Load() && nc != nil && nc.IsConnected() && rt.dc.IsConnected() &&
		rt.registered.Load() && !rt.stopping.Load()
}

// Started is closed once every function is registered.
func (rt *Runtime) Started() <-chan struct{} { return rt.readyCh }

// Conn is the runtime's NATS connection, nil before Run connects.
func (rt *Runtime) Conn() *nats.Conn { return rt.ncPtr.Load() }

// Metrics is the registry the runtime records into.
func (rt *Runtime) Metrics() *Metrics { return rt.metrics }

// AdminAddr is the address the admin server listens on, once Run started it.
func (rt *Runtime) AdminAddr() string {
	if rt.adminLn == nil {
		return ""
	}
	return rt.adminLn.Addr().String()
}
