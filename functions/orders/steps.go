package orders

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	natsfn "github.com/natsfn/natsfn/runtime"
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

// errNoOrder is the 404 of a step given an order that was never stored.
var errNoOrder = natsfn.NotFound("no order")

// expire cancels an order still pending when its deadline fires: a step
// crashed for good, or its event went to the dead-letter stream. A deadline
// whose order was never stored (its create failed halfway) has nothing to
// do.
func expire(ctx context.Context, in schemas.OrderExpiredV1) (struct{}, error) {
	err := settle(ctx, in.OrderID, schemas.StatusCancelled, "timed out: still pending at its deadline", nil)
	if errors.Is(err, errNoOrder) {
		return struct{}{}, nil
	}
	return struct{}{}, err
}

// settle moves the order to status and announces whatever it ended as:
// also on a redelivery, or when the other outcome won, so a lost
// announcement is made good (the stream drops repeats).
func settle(ctx context.Context, orderID, status, reason string, also func(*record)) error {
	won, rec, err := transition(ctx, orderID, status, reason, also)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return natsfn.NotFound("no order %s", orderID) // errors.Is(err, errNoOrder)
	}
	if err != nil {
		return err
	}
	if won {
		natsfn.Logger(ctx).Info().Str("order_id", orderID).Str("status", status).Str("reason", reason).Msg("order settled")
	}
	return announce(ctx, rec)
}
