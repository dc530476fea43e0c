package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// Document renders v's JSON schema as committed: the runtime's generator,
// indented, with a final newline.
func Document(v any) ([]byte, error) {
	raw, err := natsfn.SchemaFor(reflect.TypeOf(v))
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
