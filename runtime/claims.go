package natsfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	claimRunning = "running"
	claimDone    = "done"
)

type claimState int

const (
	claimOwned    claimState = iota // ours: go ahead
	claimFinished                   // already done: acknowledge and skip
	claimBusy                       // someone else is at it: try again later
)

// claims implements compare-and-set claims on logical events. A running
// claim older than staleAfter belongs to a replica that died; it may be
// taken over with a compare-and-set on its revision.
type claims struct {
	kv         jetstream.KeyValue
	staleAfter time.Duration
}

func claimKey(service, function, logicalID string) string {
	sum := sha256.Sum256([]byte(logicalID))
	return service + "." + function + "." + hex.EncodeToString(sum[:16])
}

// claim tries to take key. For claimBusy it says how long to wait.
func (c *claims) claim(ctx context.Context, key string) (claimState, uint64, time.Duration, error) {
	rev, err := c.kv.Create(ctx, key, []byte(claimRunning))
	if err == nil {
		return claimOwned, rev, 0, nil
	}
	if !IsConflict(err) {
		return 0, 0, 0, err
	}
	entry, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return claimBusy, 0, 0, nil // released between our two calls: retry at once
	}
	if err != nil {
		return 0, 0, 0, err
	}
	if string(entry.Value()) == claimDone {
		return claimFinished, 0, 0, nil
	}
	age := time.Since(entry.Created())
	if age < c.staleAfter {
		return claimBusy, 0, c.staleAfter - age, nil
	}
	rev, err = c.kv.Update(ctx, key, []byte(claimRunning), entry.Revision())
	if err != nil {
		return claimBusy, 0, 0, nil // another replica took it over first
	}
	return claimOwned, rev, 0, nil
}

// refresh keeps a long-running claim from looking stale.
func (c *claims) refresh(ctx context.Context, key string, rev uint64) (uint64, error) {
	return c.kv.Update(ctx, key, []byte(claimRunning), rev)
}

// finish marks the logical event done; the mark expires with the bucket's TTL.
func (c *claims) finish(ctx context.Context, key string, rev uint64) error {
	_, err := c.kv.Update(ctx, key, []byte(claimDone), rev)
	return err
}

// release gives a claim up after a failure so that a retry may take it.
func (c *claims) release(ctx context.Context, key string, rev uint64) error {
	return c.kv.Delete(ctx, key, jetstream.LastRevision(rev))
}
