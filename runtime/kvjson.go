package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// IsConflict reports a lost compare-and-set: someone wrote the key first.
// JetStream says so differently on a replicated bucket (R3: "key revision
// mismatch") than on a single replica ("key exists"); both mean read again.
func IsConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var api *jetstream.APIError // a batch's compare-and-set: "wrong last sequence"
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// keyError turns a key JetStream refuses (a wildcard, a space, an empty
// token...) into a 400. Contracts should stop such ids at the edge; this is
// the last line of defence, so caller input can never surface as a 500.
func keyError(kv jetstream.KeyValue, key string, err error) error {
	if errors.Is(err, jetstream.ErrInvalidKey) {
		return invalidKey(kv.Bucket(), key)
	}
	return err
}

func invalidKey(bucket, key string) *Error {
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return Invalid("invalid id", FieldError{Field: "id", Message: fmt.Sprintf("%q cannot name a record of %s: use letters, digits, '-' and '_'", key, bucket)})
}

// Reads go to the bucket stream's leader (see Runtime.declareBucket), and
// while a replicated stream elects a new leader nobody answers them: a read
// waits readAttempt, then asks again, until ctx ends, so a node lost costs
// an election (seconds), not the invocation's whole timeout. A write is
// not asked again (it may have been applied: retrying it could apply a
// change twice); it is bounded by writeAttempt, so a stuck one fails fast
// (504), frees its key, and the caller's retry finds what was stored.
const (
	readAttempt  = 2 * time.Second
	writeAttempt = 5 * time.Second
)

// getEntry reads key, asking again while no answer comes.
func getEntry(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, readAttempt)
		e, err := kv.Get(actx, key)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return e, err
		}
	}
}

// GetJSON reads the JSON value at key; a key that holds none (never
// written, or deleted) is jetstream.ErrKeyNotFound.
func GetJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (T, error) {
	var v T
	e, err := getEntry(ctx, kv, key)
	if err != nil {
		return v, keyError(kv, key, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, fmt.Errorf("%s/%s: %w", kv.Bucket(), key, err)
	}
	return v, nil
}
