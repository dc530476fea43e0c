package gateway

import (
	"net/http"

	"github.com/natsfn/natsfn/schemas"
)

// Route maps one HTTP method and path to one NATS request subject. The
// table is all the gateway knows of the application: no business logic.
type Route struct {
	Method  string
	Path    string // a net/http pattern path; {name} wildcards become JSON fields of the request
	Subject string
	Summary string
	// Body: the request body is the NATS payload (JSON); otherwise the
	// payload is the path wildcards as a JSON object.
	Body bool
	// Status answers success; Location, if set, is filled from the reply's
	// JSON fields, e.g. "/orders/{order_id}".
	Status   int
	Location string
	// Forward lists request headers passed on to the function.
	Forward []string
	// In and Out are the request and response types, for /openapi.json.
	In, Out any
}

// Routes is the order API.
func Routes() []Route {
	return []Route{
		{
			Method: http.MethodPost, Path: "/orders", Subject: schemas.SubjectCreateOrder,
			Summary: "Place an order; it starts pending and ends confirmed or cancelled",
			Body:    true, Status: http.StatusAccepted, Location: "/orders/{order_id}",
			Forward: []string{schemas.HeaderIdempotencyKey},
			In:      schemas.CreateOrder{}, Out: schemas.OrderAccepted{},
		},
		{
			Method: http.MethodGet, Path: "/orders/{order_id}", Subject: schemas.SubjectGetOrder,
			Summary: "An order and its status", Status: http.StatusOK,
			In: schemas.GetOrder{}, Out: schemas.Order{},
		},
		{
			Method: http.MethodGet, Path: "/products", Subject: schemas.SubjectListProducts,
			Summary: "The catalog with stock", Status: http.StatusOK,
			In: schemas.ListProducts{}, Out: []schemas.Product{},
		},
		{
			Method: http.MethodGet, Path: "/products/{product_id}", Subject: schemas.SubjectGetProduct,
			Summary: "One product with its stock", Status: http.StatusOK,
			In: schemas.GetProduct{}, Out: schemas.Product{},
		},
	}
}
