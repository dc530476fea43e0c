package natsfn

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Change is what a function watching a key-value bucket (FuncConfig.Watch)
// takes: one put or delete of a key, at its revision. Value is the key's
// new value, nil for a delete or a purge.
type Change[T any] struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	Revision  uint64 `json:"revision"`
	Operation string `json:"operation" jsonschema:"enum=put,enum=delete,enum=purge"`
	Value     *T     `json:"value,omitempty"`
}

// isChange reports whether t is a Change[T].
func isChange(t reflect.Type) bool {
	return t != nil && t.PkgPath() == reflect.TypeFor[Change[struct{}]]().PkgPath() && strings.HasPrefix(t.Name(), "Change[")
}

// changeInput turns a message of a bucket's stream into the Change its
// function takes. A delete marker (DeleteKey, Delete, or a marker the
// server writes for a bucket with LimitMarkerTTL) is a delete, a purge
// marker a purge. (A key that expires by the bucket's TTL without
// markers goes without a message: a watch does not see it.)
func changeInput(msg jetstream.Msg, meta *jetstream.MsgMetadata) ([]byte, error) {
	rest := strings.TrimPrefix(msg.Subject(), "$KV.")
	bucket, key, _ := strings.Cut(rest, ".")
	c := struct {
		Bucket    string          `json:"bucket"`
		Key       string          `json:"key"`
		Revision  uint64          `json:"revision"`
		Operation string          `json:"operation"`
		Value     json.RawMessage `json:"value,omitempty"`
	}{Bucket: bucket, Key: key, Revision: meta.Sequence.Stream, Operation: "put"}
	switch {
	case msg.Headers().Get(headerKVOp) == "PURGE", msg.Headers().Get("Nats-Marker-Reason") == "Purge":
		c.Operation = "purge"
	case msg.Headers().Get(headerKVOp) == "DEL", msg.Headers().Get("Nats-Marker-Reason") != "":
		c.Operation = "delete"
	default:
		c.Value = msg.Data()
		if !json.Valid(c.Value) {
			// Not JSON: the schema check says which field, as for a bad event.
			c.Value, _ = json.Marshal(string(msg.Data()))
		}
	}
	return json.Marshal(c)
}
