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

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// idempotencyNamespace makes order ids from Idempotency-Keys: the same key
// always names the same order, even when two requests race.
var idempotencyNamespace = uuid.MustParse("6f1b8a0e-2c55-4c3e-9a57-0d9d3b1f7e21")

type idempotency struct {
	OrderID  string `json:"order_id"`
	BodyHash string `json:"body_hash"`
}

// create accepts an order: stored pending, then announced.
func create(ctx context.Context, in schemas.CreateOrder) (schemas.OrderAccepted, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return schemas.OrderAccepted{}, err
	}
	if in.PaymentToken == "" {
		in.PaymentToken = schemas.DefaultPaymentToken
	}
	orderID := uuid.NewString()
	if key := runtime.Header(ctx).Get(schemas.HeaderIdempotencyKey); key != "" {
		if err := checkIdempotencyKey(key); err != nil {
			return schemas.OrderAccepted{}, err
		}
		body, _ := json.Marshal(in)
		sum := sha256.Sum256(body)
		keySum := sha256.Sum256([]byte(key))
		orderID = uuid.NewSHA1(idempotencyNamespace, []byte(key)).String()
		want := idempotency{OrderID: orderID, BodyHash: hex.EncodeToString(sum[:])}
		got, _, err := runtime.CreateOrGet(ctx, kv, "idem."+hex.EncodeToString(keySum[:16]), want)
		if err != nil {
			return schemas.OrderAccepted{}, err
		}
		if got.BodyHash != want.BodyHash {
			return schemas.OrderAccepted{}, runtime.Conflict("Idempotency-Key %q was already used with a different body", key)
		}
	}

	now := time.Now().UTC()
	// On a replay the order is already there, and stays as it is.
	rec, _, err := runtime.CreateOrGet(ctx, kv, orderKey(orderID), record{
		Order: schemas.Order{OrderID: orderID, CustomerID: in.CustomerID, Items: in.Items,
			Status: schemas.StatusPending, CreatedAt: now, UpdatedAt: now},
		Token: in.PaymentToken, CorrelationID: runtime.CorrelationID(ctx)})
	if err != nil {
		return schemas.OrderAccepted{}, err
	}
	if rec.Status == schemas.StatusPending {
		if _, err := kv.Put(ctx, pendingKey(orderID), []byte(rec.CreatedAt.Format(time.RFC3339Nano))); err != nil {
			return schemas.OrderAccepted{}, err
		}
		// Announced again on a replay: if the first announcement was lost the
		// saga starts now; if not, the stream drops the duplicate.
		err = runtime.Emit(ctx, schemas.EventOrderCreated, schemas.OrderCreatedV1{
			OrderID: orderID, CustomerID: rec.CustomerID, Items: rec.Items, PaymentToken: rec.Token,
		}, runtime.WithEventID(orderID))
	}
	if err == nil {
		runtime.Logger(ctx).Info().Str("order_id", orderID).Str("customer_id", rec.CustomerID).Int("items", len(rec.Items)).Msg("order accepted")
	}
	return schemas.OrderAccepted{OrderID: orderID, Status: rec.Status}, err
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
	return runtime.Invalid("invalid "+schemas.HeaderIdempotencyKey+" header",
		runtime.FieldError{Field: schemas.HeaderIdempotencyKey, Message: problem})
}

func get(ctx context.Context, in schemas.GetOrder) (schemas.Order, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return schemas.Order{}, err
	}
	rec, err := runtime.GetJSON[record](ctx, kv, orderKey(in.OrderID))
	if errors.Is(err, runtime.ErrKeyNotFound) {
		return schemas.Order{}, runtime.NotFound("no order %s", in.OrderID)
	}
	return rec.Order, err
}
