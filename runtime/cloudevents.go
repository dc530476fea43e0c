package natsfn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// envelope is the CloudEvents envelope of a message.
type envelope struct {
	ID          string
	Source      string
	Type        string // e.g. "orders.created.v1": the schema version is the suffix
	Time        time.Time
	ContentType string
}

// errNotCloudEvent means the message carries no CloudEvents headers at all;
// such a message is still processed, identified by its stream position.
var errNotCloudEvent = errors.New("not a CloudEvent: no ce-specversion header")

// parseEvent reads and checks the CloudEvents headers of a message. A message
// with none returns errNotCloudEvent; one with some but not all required
// attributes, or an unknown spec version, returns an error naming the header.
func parseEvent(h nats.Header) (envelope, error) {
	spec := h.Get(wire.HeaderCESpecVersion)
	if spec == "" {
		return envelope{}, errNotCloudEvent
	}
	if spec != "1.0" {
		return envelope{}, fmt.Errorf("%s: %q is not supported, want 1.0", wire.HeaderCESpecVersion, spec)
	}
	ev := envelope{
		ID:          h.Get(wire.HeaderCEID),
		Source:      h.Get(wire.HeaderCESource),
		Type:        h.Get(wire.HeaderCEType),
		ContentType: h.Get(wire.HeaderContentType),
	}
	for name, v := range map[string]string{wire.HeaderCEID: ev.ID, wire.HeaderCESource: ev.Source, wire.HeaderCEType: ev.Type} {
		if strings.TrimSpace(v) == "" {
			return envelope{}, fmt.Errorf("%s: required, missing or empty", name)
		}
	}
	if t := h.Get(wire.HeaderCETime); t != "" {
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return envelope{}, fmt.Errorf("%s: %q is not an RFC 3339 time", wire.HeaderCETime, t)
		}
		ev.Time = parsed
	}
	if ev.ContentType != "" && !strings.HasPrefix(ev.ContentType, "application/json") {
		return envelope{}, fmt.Errorf("%s: %q, only application/json is understood", wire.HeaderContentType, ev.ContentType)
	}
	return ev, nil
}

// baseType is the event type without its version suffix: "orders.created"
// for "orders.created.v2". Versions of one logical event share it.
func baseType(eventType string) string {
	i := strings.LastIndex(eventType, ".v")
	if i < 0 || i+2 == len(eventType) {
		return eventType
	}
	for _, c := range eventType[i+2:] {
		if c < '0' || c > '9' {
			return eventType
		}
	}
	return eventType[:i]
}

// stamp writes the envelope into h.
func (ev envelope) stamp(h nats.Header) {
	h.Set(wire.HeaderCESpecVersion, "1.0")
	h.Set(wire.HeaderCEID, ev.ID)
	h.Set(wire.HeaderCESource, ev.Source)
	h.Set(wire.HeaderCEType, ev.Type)
	h.Set(wire.HeaderCETime, ev.Time.UTC().Format(time.RFC3339Nano))
	h.Set(wire.HeaderContentType, "application/json")
}
