package natsfn

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/natsfn/natsfn/internal/jsonschema"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type fuzzOrder struct {
	CustomerID string `json:"customer_id" jsonschema:"minLength=1,maxLength=64"`
	Items      []struct {
		ProductID string `json:"product_id" jsonschema:"minLength=1,pattern=^[a-z0-9-]+$"`
		Quantity  int    `json:"quantity" jsonschema:"minimum=1,maximum=1000"`
	} `json:"items" jsonschema:"minItems=1,maxItems=50"`
	Token string `json:"payment_token,omitempty" jsonschema:"format=uuid"`
}

// FuzzValidate: whatever the body, the decode+validate path never panics;
// a refusal is a 400 naming the field at fault, and an acceptance decodes.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}`,
		`{"customer_id":"c","items":[{"product_id":"A B","quantity":0}],"payment_token":"nope"}`,
		`{"customer_id":"c","items":[{"product_id":"a","quantity":1e400}]}`, `{"customer_id":"c","extra":1,"items":[]}`,
		`{"customer_id":"\u0000","items":[{"product_id":"a","quantity":-1}]} trailing`,
	} {
		f.Add([]byte(seed))
	}
	schema, err := jsonschema.For(reflect.TypeFor[fuzzOrder]())
	if err != nil {
		f.Fatal(err)
	}
	sch, err := compileSchema("natsfn:///fuzz.json", schema)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		verr := validateBody(sch, body)
		if verr == nil {
			var in fuzzOrder
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatalf("validated but does not decode: %v", err)
			}
			return
		}
		if verr.Code != http.StatusBadRequest || len(verr.Details) == 0 {
			t.Fatalf("refusal without a 400 and details: %+v", verr)
		}
		for _, d := range verr.Details {
			if d.Field == "" || d.Message == "" {
				t.Fatalf("a detail names no field or reason: %+v", verr)
			}
		}
	})
}

// FuzzParseEvent: CloudEvents headers never panic the parser, an accepted
// envelope has its required attributes, and a refusal names the header.
func FuzzParseEvent(f *testing.F) {
	f.Add("1.0", "id-1", "src", "orders.created.v1", "2026-11-21T10:00:00Z", "application/json")
	f.Add("", "", "", "", "", "")
	f.Add("0.3", "x", "y", "z", "yesterday", "text/plain")
	f.Add("1.0", " ", "s", "t", "", "application/json; charset=utf-8")
	f.Fuzz(func(t *testing.T, spec, id, source, typ, at, ct string) {
		h := nats.Header{}
		for k, v := range map[string]string{wire.HeaderCESpecVersion: spec, wire.HeaderCEID: id, wire.HeaderCESource: source,
			wire.HeaderCEType: typ, wire.HeaderCETime: at, wire.HeaderContentType: ct} {
			if v != "" {
				h.Set(k, v)
			}
		}
		ev, err := parseEvent(h)
		switch {
		case err == nil:
			if strings.TrimSpace(ev.ID) == "" || strings.TrimSpace(ev.Source) == "" || strings.TrimSpace(ev.Type) == "" {
				t.Fatalf("accepted an envelope without required attributes: %+v", ev)
			}
		case err == errNotCloudEvent:
			if spec != "" {
				t.Fatalf("has a spec version %q but called not a CloudEvent", spec)
			}
		default:
			if !strings.Contains(err.Error(), "ce-") && !strings.Contains(err.Error(), "content-type") {
				t.Fatalf("error names no header: %v", err)
			}
		}
	})
}
