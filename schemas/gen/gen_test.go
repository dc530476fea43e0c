package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsfn/natsfn/internal/jsonschema"
	"github.com/natsfn/natsfn/schemas"
)

// TestCommittedSchemasAreCurrent fails when a struct changed but its
// committed schema did not: run `task schemas` and commit the result.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	want := map[string]bool{}
	for _, c := range schemas.Contracts() {
		want[c.Name+".json"] = true
		doc, err := jsonschema.Document(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("..", "json", c.Name+".json"))
		if err != nil {
			t.Errorf("%s: not committed (run `task schemas`): %v", c.Name, err)
			continue
		}
		if !bytes.Equal(doc, committed) {
			t.Errorf("json/%s.json is stale: run `task schemas` and commit it", c.Name)
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "json", "*.json"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s has no contract any more: delete it", f)
		}
	}
}
