package inventory

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// A stock change and the hold that goes with it are two keys, written one
// after the other. What makes the pair exactly-once without an atomic batch
// is the product record's open list: the change writes, in the same
// compare-and-set, "order O took (or gave back) q here", and the entry stays
// until the hold that backs it is durable. A step that finds the order
// half done reads both keys and knows: a hold, or an open entry, means the
// stock moved; neither means it did not. An entry is closed (removed) in the
// next change of the product by the process that wrote the hold, or by any
// process once it is old and its hold is there. The list holds only changes
// whose hold is being written, so the record stays small whatever the
// orders in flight.
//
// Why not message ids: a repeated take with the same Nats-Msg-Id is dropped
// within the duplicates window, but a server that restarts rebuilds that
// window from the messages it still stores, and a product's earlier
// revisions are gone (the bucket keeps one): after a restart the repeat was
// taken again (chaos found one unit missing that way).

// Open entries' operations.
const (
	opTake    = "take"    // stock taken; the hold is being written
	opRelease = "release" // stock given back; the hold is being deleted
)

// staleOpen is how old an entry of another process must be before a
// change looks at its hold to close it: far longer than writing a hold
// takes, far shorter than a hold's marker is kept (KeepSettled).
const staleOpen = 10 * time.Minute

type (
	// openChange is a change of stock not yet backed by its hold.
	openChange struct {
		Op       string    `json:"op"`
		Quantity int64     `json:"quantity"`
		At       time.Time `json:"at"`
	}

	// ledger changes products' stock with compare-and-set, one writer per
	// product at a time in this process, starting from the record this
	// process wrote last (known): if anyone else wrote since, the
	// compare-and-set fails and the record is read. A refusal is only
	// decided on a record just read.
	ledger struct {
		known    sync.Map // product id -> knownProduct
		mu       sync.Mutex
		closable map[string]map[string]string // product id -> order id -> op whose hold is durable
	}
	knownProduct struct {
		p   product
		rev uint64
	}
)

// change applies fn to a product's record and stores it. fn reports whether
// to write at all, or a reason to refuse (decided on a fresh read only).
// Open entries this process may close go with the write. It returns the
// record and, if it wrote, its new revision.
func (l *ledger) change(ctx context.Context, kv jetstream.KeyValue, productID string, fn func(p *product) (write bool, refuse string, err error)) (*product, uint64, string, error) {
	unlock, err := natsfn.LockKeys(ctx, kv, productKey(productID))
	if err != nil {
		return nil, 0, "", err
	}
	defer unlock()
	for {
		p, rev, remembered := l.remembered(productID)
		if !remembered {
			if p, rev, err = readProduct(ctx, kv, productID); err != nil {
				return nil, 0, "", err
			}
		}
		write, refuse, err := fn(p)
		if err != nil {
			return nil, 0, "", err
		}
		if refuse != "" && remembered {
			l.known.Delete(productID)
			continue
		}
		if refuse != "" || p == nil {
			return p, 0, refuse, nil
		}
		closed := l.close(ctx, kv, p)
		if !write && len(closed) == 0 {
			return p, 0, "", nil
		}
		newRev, _, err := natsfn.PutKey(ctx, kv, productKey(productID), p, rev, "")
		if err != nil {
			l.known.Delete(productID)
			if natsfn.IsConflict(err) {
				continue
			}
			return nil, 0, "", err
		}
		l.known.Store(productID, knownProduct{p: p.clone(), rev: newRev})
		l.closed(productID, closed)
		return p, newRev, "", nil
	}
}

// close removes from p the open entries whose holds are durable: those this
// process wrote, and old ones of others whose hold is there. It returns
// what it removed of the first kind.
func (l *ledger) close(ctx context.Context, kv jetstream.KeyValue, p *product) map[string]string {
	l.mu.Lock()
	mine := l.closable[p.ProductID]
	closed := map[string]string{}
	for order, op := range mine {
		if e, ok := p.Open[order]; ok && e.Op == op {
			delete(p.Open, order)
			closed[order] = op
		}
	}
	l.mu.Unlock()
	for order, e := range p.Open {
		if time.Since(e.At) < staleOpen {
			continue
		}
		s, err := readKey(ctx, kv, holdKey(p.ProductID, order))
		if err != nil {
			continue // next time
		}
		if (e.Op == opTake && (s.live() || s.settled == settledCommitted || s.settled == settledReleased)) ||
			(e.Op == opRelease && s.settled == settledReleased) {
			delete(p.Open, order)
		}
	}
	return closed
}

// backed notes that an open entry's hold is durable: the next change of the
// product by this process removes the entry.
func (l *ledger) backed(productID, orderID, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closable == nil {
		l.closable = map[string]map[string]string{}
	}
	if l.closable[productID] == nil {
		l.closable[productID] = map[string]string{}
	}
	l.closable[productID][orderID] = op
}

func (l *ledger) closed(productID string, closed map[string]string) {
	if len(closed) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for order := range closed {
		delete(l.closable[productID], order)
	}
}

// remembered is the product record this process wrote last, and its
// revision.
func (l *ledger) remembered(productID string) (*product, uint64, bool) {
	k, ok := l.known.Load(productID)
	if !ok {
		return nil, 0, false
	}
	kp := k.(knownProduct)
	p := kp.p.clone()
	return &p, kp.rev, true
}

// take takes an item's stock for an order, unless the order has an open
// take here already (an earlier delivery's), or a hold in any state (it was
// taken and backed before: this is a late redelivery), or there is not
// enough. It returns the hold it found and whether it took the stock. The
// hold is read under the product's lock, right before the take is decided,
// so a delivery cannot take again for a hold another one wrote and closed
// meanwhile (another process's write in between fails the compare-and-set,
// and the decision is made again).
func (l *ledger) take(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem) (p *product, held keyState, took bool, refuse string, err error) {
	p, _, refuse, err = l.change(ctx, kv, it.ProductID, func(p *product) (bool, string, error) {
		took = false
		if p != nil && p.Open[orderID].Op == opTake {
			held = keyState{}
			return false, "", nil // taken by another delivery, its hold under way
		}
		var err error
		if held, err = readKey(ctx, kv, holdKey(it.ProductID, orderID)); err != nil || held.rev != 0 {
			return false, "", err
		}
		if reason := shortage(p, it); reason != "" {
			return false, reason, nil
		}
		p.Available -= int64(it.Quantity)
		p.open(orderID, opTake, int64(it.Quantity))
		took = true
		return true, "", nil
	})
	return p, held, took, refuse, err
}

// untake gives back an open take whose hold will never be written (the
// order was rejected or cancelled first). Without an open take there is
// nothing to give back: the stock never moved, or moved back already.
func (l *ledger) untake(ctx context.Context, kv jetstream.KeyValue, orderID, productID string) error {
	_, _, _, err := l.change(ctx, kv, productID, func(p *product) (bool, string, error) {
		if p == nil {
			return false, "", nil
		}
		e, ok := p.Open[orderID]
		if !ok || e.Op != opTake {
			return false, "", nil
		}
		p.Available += e.Quantity
		delete(p.Open, orderID)
		return true, "", nil
	})
	return err
}

// giveBack returns a live hold's stock, once: the open release entry says
// it was returned while the hold is still there.
func (l *ledger) giveBack(ctx context.Context, kv jetstream.KeyValue, orderID, productID string, quantity int64) error {
	_, _, _, err := l.change(ctx, kv, productID, func(p *product) (bool, string, error) {
		if p == nil || p.Open[orderID].Op == opRelease {
			return false, "", nil
		}
		p.Available += quantity
		p.open(orderID, opRelease, quantity)
		return true, "", nil
	})
	return err
}

func (p *product) open(orderID, op string, quantity int64) {
	if p.Open == nil {
		p.Open = map[string]openChange{}
	}
	p.Open[orderID] = openChange{Op: op, Quantity: quantity, At: time.Now().UTC()}
}

func (p product) clone() product {
	if p.Open != nil {
		open := make(map[string]openChange, len(p.Open))
		for k, v := range p.Open {
			open[k] = v
		}
		p.Open = open
	}
	return p
}
