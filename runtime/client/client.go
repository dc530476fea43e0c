// Package client calls natsfn functions from code that is not one: an HTTP
// edge, a command-line tool, a test. Inside a function, use natsfn.Call,
// which takes the invocation's connection and correlation id.
//
// A function's error comes back as the *natsfn.Error it returned (code,
// message, field details); no function serving the subject is a 503, no
// reply in time a 504, the same classification the runtime uses.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// HeaderCorrelationID carries the correlation id on every request, reply and
// event, from the edge through every step.
const HeaderCorrelationID = wire.HeaderCorrelationID

// Call sends in as JSON to the function listening on subject and decodes
// its reply into Out. ctx's correlation id (WithCorrelationID) is sent
// along; ctx's deadline bounds the wait.
func Call[Out any](ctx context.Context, nc *nats.Conn, subject string, in any) (Out, error) {
	var out Out
	return out, wire.Call(ctx, nc, subject, in, &out)
}

// Request sends msg, headers and all, and returns the function's reply or
// its *natsfn.Error. A msg without a correlation id gets ctx's.
func Request(ctx context.Context, nc *nats.Conn, msg *nats.Msg) (*nats.Msg, error) {
	return wire.Request(ctx, nc, msg)
}

// WithCorrelationID returns a context whose calls carry id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return wire.WithCorrelationID(ctx, id)
}

// SafeCorrelationID returns id when it can travel as is, in headers and log
// lines (1 to 128 visible ASCII characters), else a fresh id: a caller's
// hostile or broken id is replaced, never copied.
func SafeCorrelationID(id string) string { return wire.SafeCorrelationID(id) }

// NewEvent builds the message a function would emit: payload as JSON data
// on the subject eventType, with CloudEvents headers (id, source, type,
// time) and a Nats-Msg-Id made of id and eventType, so publishing it
// twice stores it once (and its v1 and v2 copies are both stored). For
// producers outside natsfn that feed a function's trigger.
func NewEvent(eventType, id, source string, payload any) (*nats.Msg, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", eventType, err)
	}
	m := nats.NewMsg(eventType)
	m.Data = data
	m.Header.Set(wire.HeaderCESpecVersion, "1.0")
	m.Header.Set(wire.HeaderCEID, id)
	m.Header.Set(wire.HeaderCESource, source)
	m.Header.Set(wire.HeaderCEType, eventType)
	m.Header.Set(wire.HeaderCETime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Header.Set(wire.HeaderContentType, "application/json")
	m.Header.Set(nats.MsgIdHdr, id+"|"+eventType)
	return m, nil
}
