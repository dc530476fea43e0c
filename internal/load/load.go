// Package load drives the order flow through the HTTP gateway the way users
// would, and measures it: accept latency (POST to 202), end-to-end latency
// (POST to a terminal status, watched by polling the order), throughput and
// outcomes. `natsfn load`, the cluster test and the chaos test use it.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/nats-io/nuid"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Config says how hard and how long to drive.
type Config struct {
	Client       Client        // the gateway (HTTP) or NATS
	Concurrency  int           // clients placing orders; default 16
	Orders       int           // stop after this many attempts (0: use Duration)
	Duration     time.Duration // stop after this long (0: use Orders)
	Rate         float64       // orders per second, open loop; 0 is closed loop
	Products     []string      // default the demo catalog
	MaxQuantity  int           // per item; default 3
	DeclineRatio float64       // share of orders paid with tok_decline
	FlakyRatio   float64       // share paid with tok_flaky
	Settle       time.Duration // how long the wait for accepted orders goes on with none settling; default 30s
	// RetryFor is how long an order whose answer was ambiguous (a transport
	// error, 500, 502, 503 or 504: it may or may not have been stored) is
	// sent again under its Idempotency-Key before it counts as unknown;
	// default 30s, negative never retries. Without it a lost answer hides
	// an order that the saga goes on to settle.
	RetryFor time.Duration
	Seed     uint64
	// Progress, if set, is called about every second while orders are placed.
	Progress func(p Progress)
}

// Progress is a snapshot while the load runs.
type Progress struct {
	Attempted, Accepted, Settled int
	Elapsed                      time.Duration
}

// Order is one accepted order and what became of it.
type Order struct {
	ID      string
	Items   []schemas.OrderItem
	Token   string
	Placed  time.Time
	Accept  time.Duration // POST to 202
	Settled time.Duration // POST to terminal status; 0 if it never settled
	Status  string
	Reason  string
	Tries   int // POSTs it took to get a definite answer
}

// Report is what a run measured.
type Report struct {
	Attempted  int
	Accepted   []*Order
	Codes      map[int]int // final HTTP status of each attempted order's POSTs (0: transport error)
	Retried    int         // orders sent more than once after an ambiguous answer
	Unknown    int         // orders still without a definite answer when RetryFor ran out
	PlaceTime  time.Duration
	SettleTime time.Duration // from the first POST until the last order settled
	Unsettled  int
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if len(c.Products) == 0 {
		c.Products = []string{"sku-1", "sku-2", "sku-3", "sku-4", "sku-5"}
	}
	if c.MaxQuantity == 0 {
		c.MaxQuantity = 3
	}
	if c.Settle == 0 {
		c.Settle = 30 * time.Second
	}
	if c.RetryFor == 0 {
		c.RetryFor = 30 * time.Second
	}
}

// Validate reports settings that cannot work, after defaults; errors wrap
// natsfn.ErrConfig.
func (c *Config) Validate() error {
	var errs []error
	bad := func(msg string) { errs = append(errs, fmt.Errorf("%w: load: %s", natsfn.ErrConfig, msg)) }
	if c.Client == nil {
		bad("no client")
	}
	if c.Orders <= 0 && c.Duration <= 0 {
		bad("give a number of orders or a duration")
	}
	if c.Concurrency < 1 || c.MaxQuantity < 1 || c.Settle < 0 {
		bad("concurrency and max quantity must be at least 1, settle not negative")
	}
	if c.DeclineRatio < 0 || c.FlakyRatio < 0 || c.DeclineRatio+c.FlakyRatio > 1 {
		bad("decline and flaky ratios must be >= 0 and add up to at most 1")
	}
	return errors.Join(errs...)
}

// Run places orders as configured, then waits for the accepted ones to settle.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Codes: map[int]int{}}
	var mu sync.Mutex
	var attempted, settled atomic.Int64
	start := time.Now()

	placeCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		placeCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	// Tickets: each is one order to place. Open loop: at Rate; closed: as fast as clients go.
	tickets := make(chan struct{})
	go func() {
		defer close(tickets)
		var tick <-chan time.Time
		if cfg.Rate > 0 {
			t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
			defer t.Stop()
			tick = t.C
		}
		for n := 0; cfg.Orders == 0 || n < cfg.Orders; n++ {
			if tick != nil {
				select {
				case <-tick:
				case <-placeCtx.Done():
					return
				}
			}
			select {
			case tickets <- struct{}{}:
			case <-placeCtx.Done():
				return
			}
		}
	}()

	w := newWatcher(cfg, &settled)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone := make(chan struct{})
	go func() { w.run(watchCtx); close(watchDone) }()

	progressDone := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					mu.Lock()
					acc := len(rep.Accepted)
					mu.Unlock()
					cfg.Progress(Progress{Attempted: int(attempted.Load()), Accepted: acc, Settled: int(settled.Load()), Elapsed: time.Since(start)})
				case <-progressDone:
					return
				}
			}
		}()
	}

	// Keys name this run's orders: unique across runs against one system.
	run := nuid.Next()
	var wg sync.WaitGroup
	for c := range cfg.Concurrency {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
		wg.Go(func() {
			for range tickets {
				n := attempted.Add(1)
				o, code, tries := place(ctx, cfg, rng, fmt.Sprintf("load-%s-%d", run, n))
				mu.Lock()
				rep.Codes[code]++
				if tries > 1 {
					rep.Retried++
				}
				if ambiguous(code) {
					rep.Unknown++
				}
				if o != nil {
					rep.Accepted = append(rep.Accepted, o)
				}
				mu.Unlock()
				if o != nil {
					w.add(o)
				}
			}
		})
	}
	wg.Wait()
	rep.Attempted = int(attempted.Load())
	rep.PlaceTime = time.Since(start)

	// Wait for every accepted order to settle while they keep settling: a
	// closed loop accepts faster than the saga settles, so the backlog of
	// a long run outlasts any fixed budget; what fails is a stall, no order
	// settling for cfg.Settle.
	last, lastAt := settled.Load(), time.Now()
	for int(settled.Load()) < len(rep.Accepted) && ctx.Err() == nil {
		if n := settled.Load(); n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) >= cfg.Settle {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}

	stopWatch()
	<-watchDone
	close(progressDone)
	rep.SettleTime = time.Since(start)
	for _, o := range rep.Accepted {
		if o.Status == "" || o.Status == schemas.StatusPending {
			rep.Unsettled++
		}
	}
	return rep, nil
}

// place sends one random order and returns it if accepted, with the last
// status code and how many POSTs it took. An ambiguous answer is followed by
// the same order under the same key until a definite one or RetryFor.
func place(ctx context.Context, cfg Config, rng *rand.Rand, key string) (*Order, int, int) {
	var items []schemas.OrderItem
	for range 1 + rng.IntN(3) {
		items = append(items, schemas.OrderItem{ProductID: cfg.Products[rng.IntN(len(cfg.Products))], Quantity: 1 + rng.IntN(cfg.MaxQuantity)})
	}
	token := schemas.DefaultPaymentToken
	switch r := rng.Float64(); {
	case r < cfg.DeclineRatio:
		token = "tok_decline"
	case r < cfg.DeclineRatio+cfg.FlakyRatio:
		token = "tok_flaky"
	}
	order := schemas.CreateOrder{CustomerID: fmt.Sprintf("load-%d", rng.IntN(1000)), Items: items, PaymentToken: token}
	start := time.Now()
	tries := 0
	placed, _ := failsafe.With(resendPolicy(cfg.RetryFor)).WithContext(ctx).Get(func() (placement, error) {
		tries++
		id, code := cfg.Client.Place(ctx, order, key)
		return placement{id, code}, nil
	})
	if placed.id == "" {
		return nil, placed.code, tries
	}
	return &Order{ID: placed.id, Items: items, Token: token, Placed: start, Accept: time.Since(start), Status: schemas.StatusPending, Tries: tries}, placed.code, tries
}

// placement is one POST's answer: the order id if accepted, and the status.
type placement struct {
	id   string
	code int
}

// resendPolicy resends an order whose answer was ambiguous, with backoff,
// for up to retryFor (negative: never); after that the last answer stands.
func resendPolicy(retryFor time.Duration) retrypolicy.RetryPolicy[placement] {
	b := retrypolicy.NewBuilder[placement]().
		HandleIf(func(p placement, _ error) bool { return p.id == "" && ambiguous(p.code) }).
		WithBackoff(50*time.Millisecond, 2*time.Second).
		ReturnLastFailure()
	if retryFor < 0 {
		return b.WithMaxRetries(0).Build()
	}
	return b.WithMaxRetries(-1).WithMaxDuration(retryFor).Build()
}

// ambiguous reports an answer that does not say whether the order was
// stored: the request or its reply may have been lost on the way.
func ambiguous(code int) bool {
	switch code {
	case 0, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// watcher polls pending orders until each reaches a terminal status.
type watcher struct {
	cfg     Config
	mu      sync.Mutex
	pending []*Order
	settled *atomic.Int64
}

func newWatcher(cfg Config, settled *atomic.Int64) *watcher {
	return &watcher{cfg: cfg, settled: settled}
}

func (w *watcher) add(o *Order) {
	w.mu.Lock()
	w.pending = append(w.pending, o)
	w.mu.Unlock()
}

func (w *watcher) run(ctx context.Context) {
	pollers := max(2, w.cfg.Concurrency/2)
	for {
		w.mu.Lock()
		batch := slices.Clone(w.pending)
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
				continue
			}
		}
		var wg sync.WaitGroup
		next := make(chan *Order)
		for range pollers {
			wg.Go(func() {
				for o := range next {
					w.check(ctx, o)
				}
			})
		}
		for _, o := range batch {
			select {
			case next <- o:
			case <-ctx.Done():
			}
		}
		close(next)
		wg.Wait()
		w.mu.Lock()
		w.pending = slices.DeleteFunc(w.pending, func(o *Order) bool { return o.Settled > 0 })
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (w *watcher) check(ctx context.Context, o *Order) {
	got, err := w.cfg.Client.Order(ctx, o.ID)
	if err != nil {
		return
	}
	if got.Status == schemas.StatusConfirmed || got.Status == schemas.StatusCancelled {
		o.Status, o.Reason, o.Settled = got.Status, got.Reason, time.Since(o.Placed)
		w.settled.Add(1)
	}
}

// Confirmed adds up the quantities of confirmed orders per product.
func (r *Report) Confirmed() map[string]int64 {
	out := map[string]int64{}
	for _, o := range r.Accepted {
		if o.Status == schemas.StatusConfirmed {
			for _, it := range o.Items {
				out[it.ProductID] += int64(it.Quantity)
			}
		}
	}
	return out
}

// Outcomes counts accepted orders by final status ("pending" if unsettled).
func (r *Report) Outcomes() map[string]int {
	out := map[string]int{}
	for _, o := range r.Accepted {
		s := o.Status
		if s == "" {
			s = schemas.StatusPending
		}
		out[s]++
	}
	return out
}

// CheckStock verifies conservation: for every product, initial stock =
// available + confirmed quantities, and nothing is left reserved.
func CheckStock(initial map[string]int64, now []schemas.Product, confirmed map[string]int64) error {
	var errs []error
	for _, p := range now {
		if p.Reserved != 0 {
			errs = append(errs, fmt.Errorf("%s: %d still reserved", p.ProductID, p.Reserved))
		}
		if initial[p.ProductID] != p.Available+confirmed[p.ProductID] {
			errs = append(errs, fmt.Errorf("%s: initial %d != available %d + confirmed %d",
				p.ProductID, initial[p.ProductID], p.Available, confirmed[p.ProductID]))
		}
	}
	return errors.Join(errs...)
}
