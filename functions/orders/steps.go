package orders

import (
	"context"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// confirm settles a paid order. A paid order that was cancelled meanwhile
// stays cancelled; payment refunds it on the cancellation.
func confirm(ctx context.Context, in schemas.PaymentChargedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusConfirmed, "", func(r *record) { r.TotalCents = in.AmountCents })
}

func reject(ctx context.Context, in schemas.StockRejectedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusCancelled, "stock: "+in.Reason, nil)
}

func unpaid(ctx context.Context, in schemas.PaymentFailedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusCancelled, "payment: "+in.Reason, nil)
}

// expire cancels an order still pending when its deadline fires: a step
// crashed for good, or its event went to the dead-letter stream.
func expire(ctx context.Context, in schemas.OrderExpiredV1) (struct{}, error) {
	won, _, err := transition(ctx, in.OrderID, schemas.StatusCancelled, "timed out: still pending at its deadline", nil)
	if won {
		// The deadline carries the order's correlation id: this line is
		// found with the order's others.
		runtime.Logger(ctx).Warn().Str("order_id", in.OrderID).Msg("pending order expired; cancelled")
	}
	return struct{}{}, err
}

func settle(ctx context.Context, orderID, status, reason string, also func(*record)) error {
	won, rec, err := transition(ctx, orderID, status, reason, also)
	if err != nil {
		return err
	}
	if won {
		runtime.Logger(ctx).Info().Str("order_id", orderID).Str("status", status).Str("reason", reason).Msg("order settled")
		return nil
	}
	// Settled before (a redelivery, or the other outcome won): announce what
	// it ended as again, so a lost announcement is made good; the stream
	// drops repeats.
	announce(func(t string, p any, o ...runtime.EmitOption) { err = runtime.Emit(ctx, t, p, o...) }, rec)
	return err
}
