package payment

import (
	"context"
	"errors"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// record is what payment knows of one order.
type record struct {
	State       string `json:"state"` // charged | failed | voided | refunded
	ChargeID    string `json:"charge_id,omitempty"`
	AmountCents int64  `json:"amount_cents"`
	Reason      string `json:"reason,omitempty"`
}

const (
	stateCharged  = "charged"
	stateFailed   = "failed"
	stateVoided   = "voided" // cancelled before it was charged: never charge it
	stateRefunded = "refunded"
)

// providerTransient reports whether calling the provider again may work.
func providerTransient(err error) bool {
	if errors.Is(err, circuitbreaker.ErrOpen) || errors.Is(err, timeout.ErrExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var e *runtime.Error
	return !errors.As(err, &e) || e.Transient()
}

// chargeOrder charges a reserved order once and says how it went.
func (p *payments) chargeOrder(ctx context.Context, in schemas.StockReservedV1) (struct{}, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	if rec, err := runtime.GetJSON[record](ctx, kv, in.OrderID); err == nil {
		return struct{}{}, announce(ctx, in.OrderID, rec) // decided before: say it again
	} else if !errors.Is(err, runtime.ErrKeyNotFound) {
		return struct{}{}, err
	}

	res, err := p.charge.WithContext(ctx).Get(func() (schemas.ChargeResult, error) {
		return runtime.Call[schemas.ChargeResult](ctx, runtime.Conn(ctx), schemas.SubjectCharge,
			schemas.Charge{OrderID: in.OrderID, Token: in.PaymentToken, AmountCents: in.TotalCents})
	})
	var outcome record
	switch {
	case err == nil:
		outcome = record{State: stateCharged, ChargeID: res.ChargeID, AmountCents: in.TotalCents}
	case !providerTransient(err):
		outcome = record{State: stateFailed, Reason: runtime.AsError(err).Message}
	case runtime.LastAttempt(ctx):
		// The retry budget is spent: fail the payment cleanly so the order
		// is cancelled and its stock released, rather than left pending.
		outcome = record{State: stateFailed, Reason: "payment provider unavailable: " + err.Error()}
	default:
		return struct{}{}, runtime.Unavailable("payment provider: %v", err)
	}

	stored, _, err := runtime.CreateOrGet(ctx, kv, in.OrderID, outcome)
	if err != nil {
		return struct{}{}, err
	}
	if stored.State == stateVoided && outcome.State == stateCharged {
		// The order was cancelled while we charged it: give the money back.
		return struct{}{}, p.giveBack(ctx, in.OrderID)
	}
	return struct{}{}, announce(ctx, in.OrderID, stored)
}

func announce(ctx context.Context, orderID string, rec record) error {
	runtime.Logger(ctx).Info().Str("order_id", orderID).Str("payment", rec.State).Str("reason", rec.Reason).Msg("payment decision")
	id := runtime.WithEventID(orderID)
	switch rec.State {
	case stateCharged:
		return runtime.Emit(ctx, schemas.EventPaymentCharged, schemas.PaymentChargedV1{OrderID: orderID, AmountCents: rec.AmountCents, ChargeID: rec.ChargeID}, id)
	case stateFailed:
		return runtime.Emit(ctx, schemas.EventPaymentFailed, schemas.PaymentFailedV1{OrderID: orderID, Reason: rec.Reason}, id)
	}
	return nil // voided or refunded: the order is cancelled already
}

// refundOrder compensates a cancelled order: refund it if it was charged,
// and make sure it is never charged afterwards.
func (p *payments) refundOrder(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	stored, _, err := runtime.CreateOrGet(ctx, kv, in.OrderID, record{State: stateVoided, Reason: in.Reason})
	if err != nil {
		return struct{}{}, err
	}
	if stored.State == stateCharged {
		return struct{}{}, p.giveBack(ctx, in.OrderID)
	}
	return struct{}{}, nil
}

// giveBack refunds a charged order at the provider (idempotent there) and
// records it.
func (p *payments) giveBack(ctx context.Context, orderID string) error {
	res, err := p.refund.WithContext(ctx).Get(func() (schemas.RefundResult, error) {
		return runtime.Call[schemas.RefundResult](ctx, runtime.Conn(ctx), schemas.SubjectRefund, schemas.Refund{OrderID: orderID})
	})
	if err != nil {
		return runtime.Unavailable("refund %s: %v", orderID, err)
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	_, err = runtime.Mutate(ctx, kv, orderID, func(r *record, _ bool) error {
		if r.State == stateRefunded {
			return runtime.ErrNoChange
		}
		r.State = stateRefunded
		return nil
	})
	if err != nil {
		return err
	}
	return runtime.Emit(ctx, schemas.EventPaymentRefunded, schemas.PaymentRefundedV1{OrderID: orderID, AmountCents: res.AmountCents}, runtime.WithEventID(orderID))
}
