package natsfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaFor returns the JSON schema (draft 2020-12) of a Go type, as
// published in endpoint metadata and committed under schemas/. Fields are
// required unless tagged omitempty, and unknown fields are refused.
func SchemaFor(t reflect.Type) ([]byte, error) {
	r := &jsonschema.Reflector{ExpandedStruct: true, DoNotReference: true}
	s := r.ReflectFromType(t)
	return json.Marshal(s)
}

// compileSchema compiles a schema document with format assertions on, so
// "format": "uuid" or "date-time" is checked, not just annotated.
func compileSchema(url string, doc []byte) (*validator.Schema, error) {
	parsed, err := validator.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", url, err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, parsed); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", url, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", url, err)
	}
	return sch, nil
}
