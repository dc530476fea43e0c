// Command gen writes the JSON schema of every contract in package schemas
// to schemas/json/<name>.json; `task schemas` runs it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/natsfn/natsfn/internal/jsonschema"
	"github.com/natsfn/natsfn/schemas"
)

func main() {
	dir := "schemas/json"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, c := range schemas.Contracts() {
		doc, err := jsonschema.Document(c.Value)
		if err != nil {
			fmt.Fprintln(os.Stderr, c.Name, err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Name+".json"), doc, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d schemas to %s\n", len(schemas.Contracts()), dir)
}
