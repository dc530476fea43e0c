// Package schemas holds the contracts between the saga's steps: the Go
// structs of every request and event, their subjects, and the streams that
// keep the events. The JSON schemas generated from these structs are
// committed under json/ (`task schemas` regenerates them; a test fails when
// they are stale). Functions and the gateway import this package; it
// imports nothing of theirs.
package schemas

import (
	"time"
)

// Ids (order ids, product ids) become KV keys and subject tokens, so every
// contract that carries one says what an id is: 1 to 64 letters, digits,
// '-' and '_' (an order id is a UUID, which fits). Anything else is a 400
// naming the field before any key is made of it.

// Request subjects: one per function that answers requests.
const (
	SubjectCreateOrder  = "orders.create"
	SubjectGetOrder     = "orders.get"
	SubjectListProducts = "inventory.list"
	SubjectGetProduct   = "inventory.get"
	SubjectQuote        = "inventory.quote" // what items cost now
	SubjectCharge       = "paysim.charge"   // the payment provider simulator
	SubjectRefund       = "paysim.refund"
	SubjectCharges      = "paysim.charges"
	SubjectSimulate     = "paysim.simulate" // changes the simulator's latency and failure rate
)

// Event subjects. The version is the last token, and the event's ce-type.
const (
	EventOrderCreated    = "orders.created.v1"
	EventOrderConfirmed  = "orders.confirmed.v1"
	EventOrderCancelled  = "orders.cancelled.v1"
	EventOrderExpired    = "orders.expired.v1" // a pending order's deadline passed (a scheduled message)
	EventStockReserved   = "inventory.reserved.v1"
	EventStockRejected   = "inventory.rejected.v1"
	EventStockReleased   = "inventory.released.v1"
	EventPaymentCharged  = "payment.charged.v1"
	EventPaymentFailed   = "payment.failed.v1"
	EventPaymentRefunded = "payment.refunded.v1"
	DefaultPaymentToken  = "tok_visa"
	StatusPending        = "pending"
	StatusConfirmed      = "confirmed"
	StatusCancelled      = "cancelled"
	MaxItemsPerOrder     = 50
	MaxQuantityPerItem   = 1000
	HeaderIdempotencyKey = "Idempotency-Key"
)

type (
	// OrderItem is one line of an order.
	OrderItem struct {
		ProductID string `json:"product_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		Quantity  int    `json:"quantity" jsonschema:"minimum=1,maximum=1000"`
	}

	// CreateOrder is the body of POST /orders and the request of orders.create.
	CreateOrder struct {
		CustomerID   string      `json:"customer_id" jsonschema:"minLength=1,maxLength=64"`
		Items        []OrderItem `json:"items" jsonschema:"minItems=1,maxItems=50"`
		PaymentToken string      `json:"payment_token,omitempty" jsonschema:"pattern=^tok_[a-z0-9_]+$,maxLength=64,default=tok_visa"`
	}

	// OrderAccepted answers a CreateOrder.
	OrderAccepted struct {
		OrderID string `json:"order_id" jsonschema:"format=uuid"`
		Status  string `json:"status" jsonschema:"enum=pending"`
	}

	// GetOrder asks for one order.
	GetOrder struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	}

	// Order is an order as GET /orders/{id} shows it.
	Order struct {
		OrderID      string      `json:"order_id" jsonschema:"format=uuid"`
		CustomerID   string      `json:"customer_id"`
		Items        []OrderItem `json:"items"`
		PaymentToken string      `json:"-"`
		Status       string      `json:"status" jsonschema:"enum=pending,enum=confirmed,enum=cancelled"`
		Reason       string      `json:"reason,omitempty"`
		TotalCents   int64       `json:"total_cents"`
		CreatedAt    time.Time   `json:"created_at"`
		UpdatedAt    time.Time   `json:"updated_at"`
	}

	// Quote asks what items cost now.
	Quote struct {
		Items []OrderItem `json:"items" jsonschema:"minItems=1,maxItems=50"`
	}

	// QuoteResult is the total of a Quote.
	QuoteResult struct {
		TotalCents int64 `json:"total_cents"`
	}

	// ListProducts asks for the whole catalog.
	ListProducts struct{}

	// GetProduct asks for one product.
	GetProduct struct {
		ProductID string `json:"product_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	}

	// Product is a catalog entry with its stock.
	Product struct {
		ProductID  string `json:"product_id"`
		Name       string `json:"name"`
		PriceCents int64  `json:"price_cents"`
		Available  int64  `json:"available"`
		Reserved   int64  `json:"reserved"`
	}

	// Charge asks the payment provider to take money; idempotent per OrderID.
	Charge struct {
		OrderID     string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		Token       string `json:"token" jsonschema:"minLength=1"`
		AmountCents int64  `json:"amount_cents" jsonschema:"minimum=0"`
	}

	// ChargeResult is the provider's receipt.
	ChargeResult struct {
		ChargeID string `json:"charge_id"`
	}

	// Refund asks the provider to give an order's money back.
	Refund struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	}

	// RefundResult says whether there was anything to refund.
	RefundResult struct {
		Refunded    bool  `json:"refunded"`
		AmountCents int64 `json:"amount_cents"`
	}

	// ChargeCounts asks the simulator how often each order was charged.
	ChargeCounts struct{}

	// Simulate sets the payment simulator's behaviour (chaos and load tests).
	Simulate struct {
		LatencyMS   int     `json:"latency_ms" jsonschema:"minimum=0,maximum=60000"`
		FailureRate float64 `json:"failure_rate" jsonschema:"minimum=0,maximum=1"`
	}

	// ChargeCountsResult maps order ids to successful charges.
	ChargeCountsResult struct {
		Charges map[string]int `json:"charges"`
		Refunds map[string]int `json:"refunds"`
	}
)

// Events, version 1.
type (
	// OrderCreatedV1 starts the saga. ExpiresAt is when the order is
	// cancelled if still pending: a step that sees it after that has nothing
	// left to do (older events carry none).
	OrderCreatedV1 struct {
		OrderID      string      `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		CustomerID   string      `json:"customer_id"`
		Items        []OrderItem `json:"items" jsonschema:"minItems=1"`
		PaymentToken string      `json:"payment_token" jsonschema:"minLength=1"`
		ExpiresAt    *time.Time  `json:"expires_at,omitempty"`
	}

	// StockReservedV1: every item of the order is held.
	StockReservedV1 struct {
		OrderID      string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		TotalCents   int64  `json:"total_cents" jsonschema:"minimum=0"`
		PaymentToken string `json:"payment_token" jsonschema:"minLength=1"`
	}

	// StockRejectedV1: nothing is held; Reason says which item failed.
	StockRejectedV1 struct {
		OrderID   string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		ProductID string `json:"product_id,omitempty" jsonschema:"maxLength=64,pattern=^[A-Za-z0-9_-]*$"`
		Reason    string `json:"reason" jsonschema:"minLength=1"`
	}

	// StockReleasedV1: a cancelled order's held stock is available again.
	StockReleasedV1 struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	}

	// PaymentChargedV1: the order's money is taken.
	PaymentChargedV1 struct {
		OrderID     string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		AmountCents int64  `json:"amount_cents" jsonschema:"minimum=0"`
		ChargeID    string `json:"charge_id"`
	}

	// PaymentFailedV1: the order's money could not be taken.
	PaymentFailedV1 struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		Reason  string `json:"reason" jsonschema:"minLength=1"`
	}

	// PaymentRefundedV1: a cancelled order's money went back.
	PaymentRefundedV1 struct {
		OrderID     string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		AmountCents int64  `json:"amount_cents"`
	}

	// OrderConfirmedV1: the saga ended well. Items say what to commit.
	OrderConfirmedV1 struct {
		OrderID    string      `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		TotalCents int64       `json:"total_cents"`
		Items      []OrderItem `json:"items,omitempty"`
	}

	// OrderCancelledV1: the saga ended badly; compensation follows. Items
	// say what to give back.
	OrderCancelledV1 struct {
		OrderID string      `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
		Reason  string      `json:"reason" jsonschema:"minLength=1"`
		Items   []OrderItem `json:"items,omitempty"`
	}

	// OrderExpiredV1: a pending order's deadline passed; published by the
	// server from the schedule kept on order.<id>.timeout.
	OrderExpiredV1 struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	}
)

// Contract is one committed schema: a subject (event or request) and its type.
type Contract struct {
	Name  string // file name without .json: the subject, plus .request/.response for requests
	Value any
}

// Contracts lists every schema that is committed under json/.
func Contracts() []Contract {
	return []Contract{
		{SubjectCreateOrder + ".request", CreateOrder{}},
		{SubjectCreateOrder + ".response", OrderAccepted{}},
		{SubjectGetOrder + ".request", GetOrder{}},
		{SubjectGetOrder + ".response", Order{}},
		{SubjectListProducts + ".request", ListProducts{}},
		{SubjectListProducts + ".response", []Product{}},
		{SubjectGetProduct + ".request", GetProduct{}},
		{SubjectGetProduct + ".response", Product{}},
		{SubjectQuote + ".request", Quote{}},
		{SubjectQuote + ".response", QuoteResult{}},
		{SubjectCharge + ".request", Charge{}},
		{SubjectCharge + ".response", ChargeResult{}},
		{SubjectRefund + ".request", Refund{}},
		{SubjectRefund + ".response", RefundResult{}},
		{SubjectSimulate + ".request", Simulate{}},
		{EventOrderCreated, OrderCreatedV1{}},
		{EventOrderConfirmed, OrderConfirmedV1{}},
		{EventOrderCancelled, OrderCancelledV1{}},
		{EventOrderExpired, OrderExpiredV1{}},
		{EventStockReserved, StockReservedV1{}},
		{EventStockRejected, StockRejectedV1{}},
		{EventStockReleased, StockReleasedV1{}},
		{EventPaymentCharged, PaymentChargedV1{}},
		{EventPaymentFailed, PaymentFailedV1{}},
		{EventPaymentRefunded, PaymentRefundedV1{}},
	}
}
