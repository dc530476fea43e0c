package natsfn

import (
	"bytes"
	"fmt"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

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
