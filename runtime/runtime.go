package natsfn

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
)

// Runtime serves functions on NATS: one micro service instance per Service,
// an admin HTTP server, and a graceful shutdown.
type Runtime struct {
	cfg      Config
	services []Service
	log      zerolog.Logger
	metrics  *recorder
	// tracer is nil when tracing is off; stopTracing flushes the spans of
	// a provider the runtime built itself.
	tracer      trace.Tracer
	stopTracing func(context.Context) error

	nc        *nats.Conn // set once in Run before any subscription exists
	ncPtr     atomic.Pointer[nats.Conn]
	js        jetstream.JetStream
	claims    *claims
	watcher   *advisoryWatcher
	buckets   sync.Map // name -> jetstream.KeyValue
	streams   sync.Map // name -> jetstream.Stream, for Record
	instances []*instance
	mu        sync.RWMutex
	bindings  map[string]*binding // by "service/function"

	progress   *progress // the start-up step being waited for, for /readyz
	connected  atomic.Bool
	registered atomic.Bool
	stopping   atomic.Bool
	readyCh    chan struct{}

	// invokeCtx is the parent of every invocation's context; cancelled when
	// the shutdown deadline passes.
	invokeCtx context.Context
	cancel    context.CancelFunc

	admin   *http.Server
	adminLn net.Listener
}

// New checks the configuration and the services; nothing connects until Run.
func New(cfg Config, services ...Service) (*Runtime, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
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
			errs = append(errs, configError("service %q given twice", s.Name))
		}
		names[s.Name] = true
		for _, f := range s.Functions {
			subj := s.Subject(f)
			if other, dup := subjects[subj]; dup {
				errs = append(errs, configError("subject %q is used by %s and %s/%s", subj, other, s.Name, f.Name))
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
		metrics:   &recorder{set: cfg.Metrics},
		bindings:  map[string]*binding{},
		progress:  &progress{},
		readyCh:   make(chan struct{}),
		invokeCtx: ctx,
		cancel:    cancel,
	}, nil
}

// Run connects, registers every function and serves until ctx ends; then it
// shuts down gracefully and returns nil if everything finished in time.
// Every start-up step waits for NATS and JetStream with backoff (see
// startup.go); Run returns early only when ctx ends (nil) or a step fails
// for good (an error wrapping ErrStartup that says what to change).
func (rt *Runtime) Run(ctx context.Context) error {
	defer rt.cancel()
	if err := rt.startTracing(ctx); err != nil {
		return err
	}
	defer rt.flushTracing()
	if rt.cfg.AdminAddr != "" {
		if err := rt.startAdmin(); err != nil {
			return err
		}
	}
	if err := rt.start(ctx); err != nil {
		if rt.nc != nil {
			rt.nc.Close()
		}
		rt.stopAdmin()
		if ctx.Err() != nil {
			return nil // asked to stop while still starting
		}
		return err
	}
	rt.registered.Store(true)
	close(rt.readyCh)
	rt.log.Info().Int("services", len(rt.services)).Int("functions", len(rt.bindings)).Msg("serving")

	<-ctx.Done()
	return rt.shutdown()
}

// start connects and registers everything, one awaited step at a time.
func (rt *Runtime) start(ctx context.Context) error {
	nc, err := connect(ctx, &rt.cfg, rt.log, rt.metrics, connHooks{progress: rt.progress})
	if err != nil {
		return err
	}
	rt.nc = nc
	rt.ncPtr.Store(nc)
	if rt.js, err = jetstream.New(nc); err != nil {
		return err
	}
	rt.connected.Store(true)
	return rt.register(ctx)
}

// await runs one start-up step until it succeeds (see awaitStep).
func (rt *Runtime) await(ctx context.Context, step string, attempt func(ctx context.Context) error) error {
	b := stepBackoff{rt.cfg.ConnectBackoffMin, rt.cfg.ConnectBackoffMax}
	return awaitStep(ctx, rt.log, b, rt.progress, step, attempt)
}

func (rt *Runtime) register(ctx context.Context) error {
	if err := rt.declare(ctx); err != nil {
		return err
	}
	for _, def := range rt.services {
		svc := newInstance(def, rt.log)
		// Subscribing only queues the request to the server: it fails on a
		// closed connection or a bad config, never because NATS is slow.
		for _, fn := range def.Functions {
			b, err := rt.bind(svc, def, fn)
			if err != nil {
				return fmt.Errorf("service %s: %w", def.Name, err)
			}
			svc.fns = append(svc.fns, b)
			rt.mu.Lock()
			rt.bindings[def.Name+"/"+fn.Name] = b
			rt.mu.Unlock()
		}
		rt.instances = append(rt.instances, svc)
	}
	// Make sure the server has every subscription before events flow in.
	err := rt.await(ctx, "subscriptions reach the server", rt.nc.FlushWithContext)
	if err != nil {
		return err
	}
	if err := rt.startTriggers(ctx); err != nil {
		return err
	}
	// Discoverable once everything serves.
	for _, svc := range rt.instances {
		if err := svc.announce(rt.nc); err != nil {
			return err
		}
	}
	return rt.await(ctx, "discovery reaches the server", rt.nc.FlushWithContext)
}

// declare creates (or updates) the streams and buckets, each its own
// awaited step: a replica that starts while JetStream cannot place them yet
// (a cluster still forming, a leader being elected) waits for it rather
// than crash-looping, and /readyz says which one it waits for.
func (rt *Runtime) declare(ctx context.Context) error {
	if rt.usesEvents() {
		ev := rt.cfg.Events
		declared := map[string]bool{}
		for _, def := range rt.services {
			for _, st := range def.Streams {
				if declared[st.Name] {
					continue
				}
				declared[st.Name] = true
				// Message schedules, per-message TTLs and roll-ups cost
				// nothing unused and let a service keep its records beside its
				// events (see Put, Schedule).
				cfg := jetstream.StreamConfig{
					Name:              st.Name,
					Subjects:          st.Subjects,
					Storage:           jetstream.FileStorage,
					Replicas:          ev.Replicas,
					MaxAge:            cmp.Or(st.MaxAge, ev.MaxAge),
					Duplicates:        ev.Duplicates,
					AllowMsgSchedules: true,
					AllowMsgTTL:       true,
					AllowRollup:       true,
					AllowDirect:       ev.Replicas <= 1, // see declareBucket
				}
				if err := rt.declareStream(ctx, "stream "+st.Name, cfg); err != nil {
					return err
				}
			}
		}
		if err := rt.declareStream(ctx, "dead-letter stream "+wire.DeadLetterStream, deadLetterStreamConfig(ev)); err != nil {
			return err
		}
		if rt.usesSchedules() {
			if err := rt.declareStream(ctx, "schedule stream "+scheduleStream, scheduleStreamConfig(ev)); err != nil {
				return err
			}
		}
		// Claims keep nats.go's direct gets: a stale read of a claim shows
		// an earlier state, and every step of the claim protocol writes with
		// compare-and-set, so it corrects itself; and a direct get names the
		// key in its subject, which keeps each service to its own claims.
		var kv jetstream.KeyValue
		err := rt.await(ctx, "claims bucket "+wire.ClaimsBucket, func(actx context.Context) error {
			// As it is already (see ensureStream), or made so.
			s, err := rt.js.Stream(actx, "KV_"+wire.ClaimsBucket)
			if err == nil {
				if c := s.CachedInfo().Config; c.MaxAge == ev.Duplicates && c.Replicas == max(ev.Replicas, 1) && c.Storage == jetstream.FileStorage {
					kv, err = rt.js.KeyValue(actx, wire.ClaimsBucket)
					return err
				}
			}
			kv, err = rt.js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{
				Bucket:      wire.ClaimsBucket,
				Description: "natsfn: which logical events each function has started and finished",
				TTL:         ev.Duplicates,
				Storage:     jetstream.FileStorage,
				Replicas:    ev.Replicas,
			})
			return err
		})
		if err != nil {
			return err
		}
		rt.claims = &claims{kv: kv, staleAfter: ev.AckWait}
	}
	return rt.declareBuckets(ctx)
}

func (rt *Runtime) declareStream(ctx context.Context, step string, cfg jetstream.StreamConfig) error {
	return rt.await(ctx, step, func(actx context.Context) error {
		return rt.ensureStream(actx, cfg)
	})
}

// ensureStream creates a stream, or updates it if it differs from cfg, and
// leaves it alone if not: replicas starting together all declare the same
// streams, and nats-server 2.15 races an update of a stream against a
// consumer being created on it (the race detector caught it in
// TestTwoPaymentProcessesShareTheWork); an update that changes nothing is
// not worth it.
func (rt *Runtime) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) error {
	s, err := rt.js.Stream(ctx, cfg.Name)
	if err == nil && streamCovers(s.CachedInfo().Config, cfg) {
		return nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err = rt.js.CreateOrUpdateStream(ctx, cfg)
	return err
}

// streamCovers reports whether a stream's config already has every setting
// of want: each field want sets (non-zero), and the switches the runtime
// may turn either way.
func streamCovers(have, want jetstream.StreamConfig) bool {
	if have.AllowDirect != want.AllowDirect || have.AllowRollup != want.AllowRollup || have.DenyDelete != want.DenyDelete ||
		have.AllowMsgTTL != want.AllowMsgTTL || have.AllowMsgSchedules != want.AllowMsgSchedules {
		return false
	}
	var h, w map[string]any
	hb, _ := json.Marshal(have)
	wb, _ := json.Marshal(want)
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(wb, &w) != nil {
		return false
	}
	for k, v := range w {
		if v == float64(0) {
			continue // a limit left to the server's default (it stores -1)
		}
		if !reflect.DeepEqual(h[k], v) {
			return false
		}
	}
	return true
}

// declareBucket creates or updates a key-value bucket whose reads go to
// its stream's leader. nats.go makes every bucket allow direct gets, which
// any replica of an R3 bucket answers, a lagging one too: a step that
// decides on such a read (an order "still holding" its stock when it was
// reserved long ago) decides wrongly, and compare-and-set cannot catch a
// decision not to write. Chaos on a 3-node cluster found exactly that.
// So the runtime declares the bucket's stream itself, as nats.go would but
// with AllowDirect off when it has replicas, and binds the bucket to it. With
// one replica the only server answers direct gets, after every write it
// acknowledged: they stay on, because a read through the JetStream API
// queues behind every other API request of the server (the saga's reserve
// step waited 58 ms per invocation on such reads under load; see
// BENCHMARKS.md).
func (rt *Runtime) declareBucket(ctx context.Context, step string, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := rt.await(ctx, step, func(actx context.Context) error {
		if err := rt.ensureStream(actx, leaderReadStream(cfg, rt.cfg.Events.Duplicates)); err != nil {
			return err
		}
		var err error
		kv, err = rt.js.KeyValue(actx, cfg.Bucket)
		return err
	})
	return kv, err
}

// leaderReadStream is the stream nats.go makes for a bucket (see
// jetstream.prepareKeyValueConfig), with direct gets off and the runtime's
// duplicates window (nats.go's is 2 minutes): a key written with a message
// id (PutKey) is written once per window.
func leaderReadStream(cfg jetstream.KeyValueConfig, dupes time.Duration) jetstream.StreamConfig {
	if cfg.TTL > 0 && cfg.TTL < dupes {
		dupes = cfg.TTL
	}
	return jetstream.StreamConfig{
		Name:              "KV_" + cfg.Bucket,
		Description:       cfg.Description,
		Subjects:          []string{"$KV." + cfg.Bucket + ".>"},
		MaxMsgsPerSubject: int64(max(cfg.History, 1)),
		MaxBytes:          -1,
		MaxAge:            cfg.TTL,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           cfg.Storage,
		Replicas:          max(cfg.Replicas, 1),
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        dupes,
		Discard:           jetstream.DiscardNew,
		AllowDirect:       cfg.Replicas <= 1,
		AllowMsgTTL:       true, // delete markers that expire (DeleteKey)
	}
}

// usesEvents reports whether any service declares streams, triggers or
// result events, and so needs the dead-letter and claim machinery.
func (rt *Runtime) usesEvents() bool {
	for _, s := range rt.services {
		if len(s.Streams) > 0 {
			return true
		}
		for _, f := range s.Functions {
			if len(f.On) > 0 || f.Result != "" || f.Watch != "" || f.Schedule != "" {
				return true
			}
		}
	}
	return false
}

// usesSchedules reports whether any function runs on a Schedule.
func (rt *Runtime) usesSchedules() bool {
	for _, s := range rt.services {
		for _, f := range s.Functions {
			if f.Schedule != "" {
				return true
			}
		}
	}
	return false
}

func (rt *Runtime) startTriggers(ctx context.Context) error {
	var all []*trigger
	for _, def := range rt.services {
		for _, fn := range def.Functions {
			b := rt.binding(def.Name, fn.Name)
			if fn.Schedule != "" {
				err := rt.await(ctx, "schedule of "+def.Name+"/"+fn.Name, func(actx context.Context) error {
					return rt.ensureSchedule(actx, def.Name, fn)
				})
				if err != nil {
					return err
				}
			}
			for _, spec := range fn.triggers(def.Name) {
				t := rt.newTrigger(b, spec.subject)
				t.input = spec.input
				if err := rt.await(ctx, "consumer "+t.durable+" on "+spec.subject, t.declare); err != nil {
					return err
				}
				b.triggers = append(b.triggers, t)
				all = append(all, t)
			}
		}
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
func (rt *Runtime) storeDeadLetter(d wire.DeadLetter) error {
	ctx, cancel := context.WithTimeout(rt.invokeCtx, 10*time.Second)
	defer cancel()
	if _, err := rt.js.PublishMsg(ctx, d.Msg()); err != nil {
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

// shutdown stops taking work, lets in-flight invocations finish within the
// deadline, then unregisters and closes.
func (rt *Runtime) shutdown() error {
	rt.stopping.Store(true)
	deadline := time.Now().Add(rt.cfg.ShutdownTimeout)
	rt.log.Info().Dur("deadline", rt.cfg.ShutdownTimeout).Msg("shutting down: draining requests")

	// Out of discovery first, then no more requests: the server sends
	// nothing more, and what a subscription holds already is still served.
	for _, svc := range rt.instances {
		svc.withdraw()
	}
	for _, b := range rt.bindings {
		if err := b.sub.Drain(); err != nil {
			rt.log.Warn().AnErr("cause", err).Str("function", b.fn.Name).Msg("cannot drain requests")
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
		rt.cancel()
	}
	drainConn(rt.nc, max(time.Until(deadline), time.Second))
	rt.cancel()
	for _, b := range rt.bindings {
		b.workers.stop()
		b.readers.Wait() // the connection is closed: every NextMsg has returned
	}
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
	return rt.connected.Load() && nc != nil && nc.IsConnected() &&
		rt.registered.Load() && !rt.stopping.Load()
}

// Started is closed once every function is registered.
func (rt *Runtime) Started() <-chan struct{} { return rt.readyCh }

// Conn is the runtime's NATS connection, nil before Run connects.
func (rt *Runtime) Conn() *nats.Conn { return rt.ncPtr.Load() }

// Metrics is the registry the runtime records into.
func (rt *Runtime) Metrics() *metrics.Set { return rt.metrics.set }

// AdminAddr is the address the admin server listens on, once Run started it.
func (rt *Runtime) AdminAddr() string {
	if rt.adminLn == nil {
		return ""
	}
	return rt.adminLn.Addr().String()
}
