// Package gateway is the HTTP edge of natsfn: a declarative route table that
// maps HTTP requests to NATS requests, with no business logic of its own.
package gateway
