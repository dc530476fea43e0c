package natsfn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// CloudEvents 1.0 binary-mode headers: the event's attributes travel as
// message headers and the payload is the JSON data itself.
const (
	HeaderCESpecVersion = "ce-specversion"
	HeaderCEID          = "ce-id"
	HeaderCESource      = "ce-source"
	HeaderCEType        = "ce-type"
	HeaderCETime        = "ce-time"
	HeaderContentType   = "content-type"
	// HeaderTraceParent is the W3C trace context; passed on unchanged.
	HeaderTraceParent = "traceparent"
)

// Event is the CloudEvents envelope of a message.
type Event struct {
	ID          string
	Source      string
	Type        string // e.g. "orders.created.v1": the schema version is the suffix
	Time        time.Time
	ContentType string
}

// ErrNotCloudEvent means the message carries no CloudEvents headers at all;
// such a message is still processed, identified by its stream position.
var ErrNotCloudEvent = errors.New("not a CloudEvent: no ce-specversion header")

// ParseEvent reads and checks the CloudEvents headers of a message. A message
// with none returns ErrNotCloudEvent; one with some but not all required
// attributes, or an unknown spec version, returns an error naming the header.
func ParseEvent(h nats.Header) (Event, error) {
	spec := h.Get(HeaderCESpecVersion)
	if spec == "" {
		return Event{}, ErrNotCloudEvent
	}
	if spec != "1.0" {
		return Event{}, fmt.Errorf("%s: %q is not supported, want 1.0", HeaderCESpecVersion, spec)
	}
	ev := Event{
		ID:          h.Get(HeaderCEID),
		Source:      h.Get(HeaderCESource),
		Type:        h.Get(HeaderCEType),
		ContentType: h.Get(HeaderContentType),
	}
	for name, v := range map[string]string{HeaderCEID: ev.ID, HeaderCESource: ev.Source, HeaderCEType: ev.Type} {
		if strings.TrimSpace(v) == "" {
			return Event{}, fmt.Errorf("%s: required, missing or empty", name)
		}
	}
	if t := h.Get(HeaderCETime); t != "" {
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return Event{}, fmt.Errorf("%s: %q is not an RFC 3339 time", HeaderCETime, t)
		}
		ev.Time = parsed
	}
	if ev.ContentType != "" && !strings.HasPrefix(ev.ContentType, "application/json") {
		return Event{}, fmt.Errorf("%s: %q, only application/json is understood", HeaderContentType, ev.ContentType)
	}
	return ev, nil
}

// BaseType is the event type without its version suffix: "orders.created"
// for "orders.created.v2". Versions of one logical event share it.
func BaseType(eventType string) string {
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
func (ev Event) stamp(h nats.Header) {
	h.Set(HeaderCESpecVersion, "1.0")
	h.Set(HeaderCEID, ev.ID)
	h.Set(HeaderCESource, ev.Source)
	h.Set(HeaderCEType, ev.Type)
	h.Set(HeaderCETime, ev.Time.UTC().Format(time.RFC3339Nano))
	h.Set(HeaderContentType, "application/json")
}
