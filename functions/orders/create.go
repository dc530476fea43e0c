package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// idempotencyNamespace makes order ids from Idempotency-Keys: the same key
// always names the same order, even when two requests race.
var idempotencyNamespace = uuid.MustParse("6f1b8a0e-2c55-4c3e-9a57-0d9d3b1f7e21")

// create accepts an order: its deadline, then its record (compare-and-set
// on "no record yet", which also settles an Idempotency-Key race), then
// orders.created once the function returns. The deadline is sent without
// waiting for its ack (the stream stores it before the record; the reply
// waits for both): two round trips before the 202. In that order, a crash at any
// point leaves nothing stuck: a record without its announcement still has
// its deadline, which cancels it; a deadline without a record finds
// nothing to cancel. With an Idempotency-Key the order id is derived from
// the key and the record keeps a hash of the body: the same key and body
// answer the same order (and announce it again: the stream drops the
// repeat), the same key with another body is a 409. There is no separate
// idempotency record to keep or expire: the order's own record is it.
func create(timeout time.Duration) func(context.Context, schemas.CreateOrder) (schemas.OrderAccepted, error) {
	return func(ctx context.Context, in schemas.CreateOrder) (schemas.OrderAccepted, error) {
		if in.PaymentToken == "" {
			in.PaymentToken = schemas.DefaultPaymentToken
		}
		orderID, bodyHash := uuid.NewString(), ""
		if key := natsfn.Header(ctx).Get(schemas.HeaderIdempotencyKey); key != "" {
			if err := checkIdempotencyKey(key); err != nil {
				return schemas.OrderAccepted{}, err
			}
			body, _ := json.Marshal(in)
			sum := sha256.Sum256(body)
			orderID, bodyHash = uuid.NewSHA1(idempotencyNamespace, []byte(key)).String(), hex.EncodeToString(sum[:])
		}
		now := time.Now().UTC()
		rec := record{
			Order: schemas.Order{OrderID: orderID, CustomerID: in.CustomerID, Items: in.Items,
				Status: schemas.StatusPending, CreatedAt: now, UpdatedAt: now},
			Token: in.PaymentToken, CorrelationID: natsfn.CorrelationID(ctx), BodyHash: bodyHash,
			ExpiresAt: now.Add(timeout),
		}
		if err := natsfn.Schedule(ctx, deadlineSubject(orderID), rec.ExpiresAt, schemas.EventOrderExpired, orderID, schemas.OrderExpiredV1{OrderID: orderID}); err != nil {
			return schemas.OrderAccepted{}, err
		}
		if _, err := natsfn.Put(ctx, recordSubject(orderID), rec, 0); natsfn.IsConflict(err) {
			// The order exists: a replay of its key, or the same key again
			// with another body.
			prev, _, err := natsfn.Record[record](ctx, Stream, recordSubject(orderID))
			if err != nil {
				return schemas.OrderAccepted{}, err
			}
			if prev.BodyHash != bodyHash {
				return schemas.OrderAccepted{}, natsfn.Conflict("Idempotency-Key %q was already used with a different body", natsfn.Header(ctx).Get(schemas.HeaderIdempotencyKey))
			}
			rec = prev
		} else if err != nil {
			return schemas.OrderAccepted{}, err
		}
		var err error
		if rec.Status == schemas.StatusPending {
			err = natsfn.Emit(ctx, schemas.EventOrderCreated, orderID, schemas.OrderCreatedV1{
				OrderID: orderID, CustomerID: rec.CustomerID, Items: rec.Items, PaymentToken: rec.Token, ExpiresAt: &rec.ExpiresAt,
			})
		}
		natsfn.Logger(ctx).Info().Str("order_id", orderID).Str("customer_id", rec.CustomerID).Int("items", len(rec.Items)).Msg("order accepted")
		return schemas.OrderAccepted{OrderID: orderID, Status: rec.Status}, err
	}
}

// MaxIdempotencyKeyLen is Stripe's limit, which clients already know.
const MaxIdempotencyKeyLen = 255

// checkIdempotencyKey refuses keys that are too long, not UTF-8, or carry
// control characters: a key is quoted back in errors and logs.
func checkIdempotencyKey(key string) error {
	problem := ""
	switch {
	case !utf8.ValidString(key):
		problem = "is not valid UTF-8"
	case utf8.RuneCountInString(key) > MaxIdempotencyKeyLen:
		problem = fmt.Sprintf("is %d characters long; the limit is %d", utf8.RuneCountInString(key), MaxIdempotencyKeyLen)
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		problem = "has control characters"
	default:
		return nil
	}
	return natsfn.Invalid("invalid "+schemas.HeaderIdempotencyKey+" header",
		natsfn.FieldError{Field: schemas.HeaderIdempotencyKey, Message: problem})
}

// get answers an order. A pending one shows what its items cost now (asked
// of inventory); a settled one, what was charged.
func get(ctx context.Context, in schemas.GetOrder) (schemas.Order, error) {
	rec, _, err := natsfn.Record[record](ctx, Stream, recordSubject(in.OrderID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return schemas.Order{}, natsfn.NotFound("no order %s", in.OrderID)
	}
	if err != nil {
		return schemas.Order{}, err
	}
	if rec.Status == schemas.StatusPending && rec.TotalCents == 0 {
		if q, err := natsfn.Call[schemas.QuoteResult](ctx, schemas.SubjectQuote, schemas.Quote{Items: rec.Items}); err == nil {
			rec.TotalCents = q.TotalCents
		} else {
			natsfn.Logger(ctx).Debug().AnErr("cause", err).Str("order_id", in.OrderID).Msg("no quote for a pending order")
		}
	}
	return rec.Order, nil
}
