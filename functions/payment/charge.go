package payment

import (
	"context"
	"errors"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/timeout"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// providerTransient reports whether calling the provider again may work.
func providerTransient(err error) bool {
	if errors.Is(err, circuitbreaker.ErrOpen) || errors.Is(err, timeout.ErrExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var e *natsfn.Error
	return !errors.As(err, &e) || e.Transient()
}

// chargeOrder charges a reserved order and says how it went. The provider
// charges an order at most once (the order id is its idempotency key, as
// with Stripe), so a redelivery gets the same charge back and says the same
// again; payment keeps no state of its own. An order cancelled before it
// was charged was voided at the provider (see refundOrder), which then
// refuses the charge: the order stays cancelled.
func (p *payments) chargeOrder(ctx context.Context, in schemas.StockReservedV1) (struct{}, error) {
	res, err := p.charge.WithContext(ctx).Get(func() (schemas.ChargeResult, error) {
		return natsfn.Call[schemas.ChargeResult](ctx, schemas.SubjectCharge, schemas.Charge{OrderID: in.OrderID, Token: in.PaymentToken, AmountCents: in.TotalCents})
	})
	var reason string
	switch {
	case err == nil:
		natsfn.Logger(ctx).Info().Str("order_id", in.OrderID).Str("charge_id", res.ChargeID).Msg("payment charged")
		return struct{}{}, natsfn.Emit(ctx, schemas.EventPaymentCharged, in.OrderID,
			schemas.PaymentChargedV1{OrderID: in.OrderID, AmountCents: in.TotalCents, ChargeID: res.ChargeID})
	case !providerTransient(err):
		reason = refusal(err)
	case natsfn.LastAttempt(ctx):
		// The retry budget is spent: fail the payment cleanly so the order
		// is cancelled and its stock released, rather than left pending. If
		// the provider did charge after all, the cancellation refunds it.
		reason = "payment provider unavailable: " + err.Error()
	default:
		return struct{}{}, natsfn.Unavailable("payment provider: %v", err)
	}
	natsfn.Logger(ctx).Info().Str("order_id", in.OrderID).Str("reason", reason).Msg("payment failed")
	return struct{}{}, natsfn.Emit(ctx, schemas.EventPaymentFailed, in.OrderID, schemas.PaymentFailedV1{OrderID: in.OrderID, Reason: reason})
}

// refundOrder compensates a cancelled order: the provider refunds it if it
// was charged, or voids it so it is never charged afterwards (a charge
// still in flight is refused).
func (p *payments) refundOrder(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	res, err := p.refund.WithContext(ctx).Get(func() (schemas.RefundResult, error) {
		return natsfn.Call[schemas.RefundResult](ctx, schemas.SubjectRefund, schemas.Refund{OrderID: in.OrderID})
	})
	if err != nil {
		return struct{}{}, natsfn.Unavailable("refund %s: %v", in.OrderID, err)
	}
	if !res.Refunded {
		return struct{}{}, nil // never charged: voided
	}
	return struct{}{}, natsfn.Emit(ctx, schemas.EventPaymentRefunded, in.OrderID, schemas.PaymentRefundedV1{OrderID: in.OrderID, AmountCents: res.AmountCents})
}

// refusal is what the provider said when it refused a charge for good.
func refusal(err error) string {
	var e *natsfn.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "payment refused"
}
