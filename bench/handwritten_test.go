package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/schemas"
)

// handWritten is the order flow as a team would write it by hand with
// nats.go, no natsfn: an HTTP handler that stores the order in KV and
// publishes an event, and plain JetStream consumers that reserve stock,
// charge through the same payment simulator, and confirm, each with KV
// compare-and-set. No schema validation, no claims, no dead letters, no
// metrics, no stats: what natsfn must cost nothing against.
type handWritten struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	orders jetstream.KeyValue
	stock  jetstream.KeyValue
	api    string
}

type hwOrder struct {
	OrderID string              `json:"order_id"`
	Items   []schemas.OrderItem `json:"items"`
	Token   string              `json:"payment_token"`
	Status  string              `json:"status"`
	Total   int64               `json:"total_cents"`
}

func startHandWritten(tb testing.TB, nc *nats.Conn) *handWritten {
	tb.Helper()
	ctx := context.Background()
	js, _ := jetstream.New(nc)
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "HW", Subjects: []string{"hw.>"}, Storage: jetstream.FileStorage})
	must(tb, err)
	h := &handWritten{js: js, nc: nc}
	h.orders, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hw_orders", Storage: jetstream.FileStorage})
	must(tb, err)
	h.stock, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hw_stock", Storage: jetstream.FileStorage})
	must(tb, err)
	for _, p := range []string{"sku-1", "sku-2", "sku-3", "sku-4", "sku-5"} {
		_, err := h.stock.Put(ctx, p, []byte(`{"available":1000000000,"price_cents":1000}`))
		must(tb, err)
	}
	h.consume(tb, "hw_reserve", "hw.orders.created", h.reserve)
	h.consume(tb, "hw_charge", "hw.inventory.reserved", h.charge)
	h.consume(tb, "hw_confirm", "hw.payment.charged", h.confirm)
	hs := httptest.NewServer(http.HandlerFunc(h.create))
	tb.Cleanup(hs.Close)
	h.api = hs.URL
	return h
}

func (h *handWritten) create(w http.ResponseWriter, r *http.Request) {
	var in schemas.CreateOrder
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil || len(in.Items) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	o := hwOrder{OrderID: uuid.NewString(), Items: in.Items, Token: in.PaymentToken, Status: "pending"}
	data, _ := json.Marshal(o)
	if _, err := h.orders.Create(r.Context(), o.OrderID, data); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if _, err := h.js.Publish(r.Context(), "hw.orders.created", data, jetstream.WithMsgID("created:"+o.OrderID)); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(schemas.OrderAccepted{OrderID: o.OrderID, Status: "pending"})
}

func (h *handWritten) consume(tb testing.TB, durable, subject string, handle func(context.Context, hwOrder) error) {
	ctx := context.Background()
	c, err := h.js.CreateOrUpdateConsumer(ctx, "HW", jetstream.ConsumerConfig{Durable: durable, FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
	must(tb, err)
	cc, err := c.Consume(func(m jetstream.Msg) {
		var o hwOrder
		if json.Unmarshal(m.Data(), &o) != nil {
			_ = m.Term()
			return
		}
		if err := handle(ctx, o); err != nil {
			tb.Logf("%s: %v", durable, err)
			_ = m.NakWithDelay(100 * time.Millisecond)
			return
		}
		_ = m.Ack()
	})
	must(tb, err)
	tb.Cleanup(cc.Stop)
}

// cas applies change to a JSON value with compare-and-set, retrying conflicts.
func cas[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(*T) error) error {
	for {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return err
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return err
		}
		if err := change(&v); err != nil {
			return err
		}
		data, _ := json.Marshal(v)
		if _, err = kv.Update(ctx, key, data, e.Revision()); !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
	}
}

type hwStock struct {
	Available int64 `json:"available"`
	Price     int64 `json:"price_cents"`
}

func (h *handWritten) reserve(ctx context.Context, o hwOrder) error {
	for _, it := range o.Items {
		err := cas(ctx, h.stock, it.ProductID, func(s *hwStock) error {
			if s.Available < int64(it.Quantity) {
				return errors.New("insufficient")
			}
			s.Available -= int64(it.Quantity)
			o.Total += s.Price * int64(it.Quantity)
			return nil
		})
		if err != nil {
			return err
		}
	}
	data, _ := json.Marshal(o)
	_, err := h.js.Publish(ctx, "hw.inventory.reserved", data, jetstream.WithMsgID("reserved:"+o.OrderID))
	return err
}

func (h *handWritten) charge(ctx context.Context, o hwOrder) error {
	req, _ := json.Marshal(schemas.Charge{OrderID: "hw-" + o.OrderID, Token: o.Token, AmountCents: o.Total})
	if _, err := h.nc.RequestWithContext(ctx, schemas.SubjectCharge, req); err != nil {
		return err
	}
	data, _ := json.Marshal(o)
	_, err := h.js.Publish(ctx, "hw.payment.charged", data, jetstream.WithMsgID("charged:"+o.OrderID))
	return err
}

func (h *handWritten) confirm(ctx context.Context, o hwOrder) error {
	err := cas(ctx, h.orders, o.OrderID, func(v *hwOrder) error {
		v.Status = "confirmed"
		return nil
	})
	if err != nil {
		return err
	}
	_, err = h.js.Publish(ctx, "hw.orders.confirmed", []byte(`{"order_id":"`+o.OrderID+`"}`), jetstream.WithMsgID("confirmed:"+o.OrderID))
	return err
}
