// Package jsonschema generates the JSON schema (draft 2020-12) of a Go type
// the one way natsfn publishes them: in endpoint metadata (the runtime), in
// the committed contracts (schemas/json) and in the gateway's OpenAPI
// document. Fields are required unless tagged omitempty, and unknown
// fields are refused.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"reflect"

	invopop "github.com/invopop/jsonschema"
)

// For returns the JSON schema of t.
func For(t reflect.Type) ([]byte, error) {
	r := &invopop.Reflector{ExpandedStruct: true, DoNotReference: true}
	return json.Marshal(r.ReflectFromType(t))
}

// Document renders v's JSON schema as committed under schemas/json:
// indented, with a final newline.
func Document(v any) ([]byte, error) {
	raw, err := For(reflect.TypeOf(v))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
