package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/natsfn/natsfn/internal/jsonschema"
	"github.com/natsfn/natsfn/runtime/client"
)

// OpenAPI builds the OpenAPI 3.1 document of routes from the same Go
// structs, and the same schema generator, as the functions' contracts:
// OpenAPI 3.1 schemas are JSON Schema 2020-12, so they are used as they are.
func OpenAPI(title string, routes []Route) ([]byte, error) {
	components := map[string]any{}
	ref := func(v any) (map[string]any, error) {
		t := reflect.TypeOf(v)
		name := schemaName(t)
		if _, done := components[name]; !done {
			raw, err := jsonschema.For(t)
			if err != nil {
				return nil, err
			}
			var s map[string]any
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			delete(s, "$schema") // the document's dialect applies
			delete(s, "$id")     // ids would rebase references inside the document
			components[name] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}, nil
	}
	components["Problem"] = map[string]any{
		"type":     "object",
		"required": []string{"error"},
		"properties": map[string]any{
			"error": map[string]any{"type": "string"},
			"details": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []string{"field", "message"},
				"properties": map[string]any{"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
			}},
		},
	}
	problem := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	correlation := map[string]any{"name": client.HeaderCorrelationID, "in": "header", "required": false,
		"description": "Used if given, generated if not; echoed on every response and carried to every step.",
		"schema":      map[string]any{"type": "string", "maxLength": 128}}

	paths := map[string]any{}
	for _, rt := range routes {
		out, err := ref(rt.Out)
		if err != nil {
			return nil, err
		}
		params := []any{correlation}
		for _, w := range wildcards(rt.Path) {
			params = append(params, map[string]any{"name": w, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, h := range rt.Forward {
			params = append(params, map[string]any{"name": h, "in": "header", "required": false, "schema": map[string]any{"type": "string"},
				"description": "The same key with the same body returns the same result; with another body, 409."})
		}
		responses := map[string]any{
			strconv.Itoa(rt.Status): map[string]any{"description": http.StatusText(rt.Status),
				"content": map[string]any{"application/json": map[string]any{"schema": out}}},
			"400": problem("Invalid input; details name each field"),
			"404": problem("Not found"),
			"429": problem("Overloaded; retry shortly"),
			"503": problem("No function available or NATS unreachable"),
			"504": problem("The function did not answer in time"),
		}
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"parameters":  params,
			"responses":   responses,
		}
		if rt.Body {
			in, err := ref(rt.In)
			if err != nil {
				return nil, err
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": in}}}
			responses["409"] = problem("Conflict, e.g. an Idempotency-Key reused with another body")
			responses["413"] = problem("Body too large")
			responses["415"] = problem("Not application/json")
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": title, "version": "1.0.0",
			"description": "Each route is a NATS request to a natsfn function; see `nats micro info`."},
		"paths":      paths,
		"components": map[string]any{"schemas": components},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func schemaName(t reflect.Type) string {
	if t.Kind() == reflect.Slice {
		return schemaName(t.Elem()) + "List"
	}
	return t.Name()
}

func operationID(rt Route) string {
	parts := []string{strings.ToLower(rt.Method)}
	for _, p := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
		p = strings.Trim(p, "{}")
		if p != "" {
			parts = append(parts, strings.ToUpper(p[:1])+p[1:])
		}
	}
	return fmt.Sprint(strings.Join(parts, ""))
}
