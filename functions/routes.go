package functions

import (
	"net/http"

	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/schemas"
)

// Title is the order API's name in its OpenAPI document.
const Title = "natsfn orders API"

// Routes is the order API: each HTTP route the gateway serves and the
// function request it becomes.
func Routes() []gateway.Route {
	return []gateway.Route{
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
