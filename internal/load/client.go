package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// Client is how orders are placed and watched: through the HTTP gateway or
// straight over NATS.
type Client interface {
	// Place sends an order under an Idempotency-Key, so sending it again
	// with the same key cannot create a second order; code is the HTTP
	// status (or the function's status over NATS, 202 on success; 0 for a
	// transport failure).
	Place(ctx context.Context, o schemas.CreateOrder, key string) (id string, code int)
	Order(ctx context.Context, id string) (schemas.Order, error)
	Products(ctx context.Context) ([]schemas.Product, error)
}

// HTTP drives the gateway at URL.
type HTTP struct {
	URL    string
	Client *http.Client
}

// NewHTTP returns a gateway client with a connection pool sized for the load.
func NewHTTP(url string, concurrency int) *HTTP {
	return &HTTP{URL: url, Client: &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{MaxIdleConns: concurrency * 4, MaxIdleConnsPerHost: concurrency * 4}}}
}

func (h *HTTP) Place(ctx context.Context, o schemas.CreateOrder, key string) (string, int) {
	body, _ := json.Marshal(o)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL+"/orders", bytes.NewReader(body))
	if err != nil {
		return "", 0
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(schemas.HeaderIdempotencyKey, key)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var acc schemas.OrderAccepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &acc) != nil {
		return "", resp.StatusCode
	}
	return acc.OrderID, resp.StatusCode
}

func (h *HTTP) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (h *HTTP) Order(ctx context.Context, id string) (schemas.Order, error) {
	var o schemas.Order
	return o, h.get(ctx, "/orders/"+id, &o)
}

func (h *HTTP) Products(ctx context.Context) ([]schemas.Product, error) {
	var p []schemas.Product
	return p, h.get(ctx, "/products", &p)
}

// NATS drives the functions directly, without the gateway.
type NATS struct {
	Conn    *nats.Conn
	Timeout time.Duration
}

func (n *NATS) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(n.Timeout, 10*time.Second))
}

func (n *NATS) Place(ctx context.Context, o schemas.CreateOrder, key string) (string, int) {
	ctx, cancel := n.ctx(ctx)
	defer cancel()
	msg := nats.NewMsg(schemas.SubjectCreateOrder)
	msg.Data, _ = json.Marshal(o)
	if key != "" {
		msg.Header.Set(schemas.HeaderIdempotencyKey, key)
	}
	reply, err := client.Request(ctx, n.Conn, msg)
	var acc schemas.OrderAccepted
	if err == nil {
		err = json.Unmarshal(reply.Data, &acc)
	}
	var e *natsfn.Error
	switch {
	case err == nil:
		return acc.OrderID, http.StatusAccepted
	case errors.As(err, &e):
		return "", e.Code
	}
	return "", 0
}

func (n *NATS) Order(ctx context.Context, id string) (schemas.Order, error) {
	ctx, cancel := n.ctx(ctx)
	defer cancel()
	return client.Call[schemas.Order](ctx, n.Conn, schemas.SubjectGetOrder, schemas.GetOrder{OrderID: id})
}

func (n *NATS) Products(ctx context.Context) ([]schemas.Product, error) {
	ctx, cancel := n.ctx(ctx)
	defer cancel()
	return client.Call[[]schemas.Product](ctx, n.Conn, schemas.SubjectListProducts, schemas.ListProducts{})
}
