package natsfn

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestParseEvent(t *testing.T) {
	valid := func() nats.Header {
		return nats.Header{
			"ce-specversion": {"1.0"}, "ce-id": {"e-1"}, "ce-source": {"test"}, "ce-type": {"orders.created.v2"},
			"ce-time": {"2026-11-21T10:00:00.5Z"}, "content-type": {"application/json"},
		}
	}
	ev, err := parseEvent(valid())
	if err != nil || ev.ID != "e-1" || ev.Type != "orders.created.v2" || ev.Time.IsZero() {
		t.Fatalf("valid event: %+v %v", ev, err)
	}
	if _, err := parseEvent(nats.Header{}); !errors.Is(err, errNotCloudEvent) {
		t.Fatalf("no headers: %v", err)
	}
	for header, value := range map[string]string{
		"ce-specversion": "0.3", "ce-id": "", "ce-source": " ", "ce-type": "",
		"ce-time": "yesterday", "content-type": "application/xml",
	} {
		h := valid()
		h.Set(header, value)
		if _, err := parseEvent(h); err == nil || !strings.Contains(err.Error(), header) {
			t.Errorf("%s=%q: error %v does not name the header", header, value, err)
		}
	}
	if got := baseType("orders.created.v12"); got != "orders.created" {
		t.Errorf("baseType = %q", got)
	}
	if got := baseType("orders.created"); got != "orders.created" {
		t.Errorf("baseType without version = %q", got)
	}
}
