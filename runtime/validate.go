package natsfn

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// validateBody checks a request body against a compiled schema and explains
// every failure per field, so a caller can fix all of them in one go.
func validateBody(sch *validator.Schema, body []byte) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return Invalid("invalid request", FieldError{Field: "body", Message: "is empty; send a JSON object"})
	}
	doc, err := validator.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return Invalid("invalid request", FieldError{Field: "body", Message: "is not valid JSON: " + err.Error()})
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *validator.ValidationError
	if !errors.As(err, &ve) {
		return Invalid("invalid request", FieldError{Field: "body", Message: err.Error()})
	}
	var details []FieldError
	collectFieldErrors(ve, &details)
	sort.SliceStable(details, func(i, j int) bool { return details[i].Field < details[j].Field })
	return Invalid("invalid request", details...)
}

// collectFieldErrors walks the validation tree down to its leaves, which are
// the concrete failures; the inner nodes only say "one of the below failed".
func collectFieldErrors(ve *validator.ValidationError, out *[]FieldError) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collectFieldErrors(c, out)
		}
		return
	}
	at := fieldPath(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, FieldError{Field: joinField(at, m), Message: "is required"})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, FieldError{Field: joinField(at, p), Message: "is not a known field"})
		}
	case *kind.Type:
		*out = append(*out, FieldError{Field: orBody(at), Message: fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)})
	default:
		*out = append(*out, FieldError{Field: orBody(at), Message: ve.ErrorKind.LocalizedString(printer)})
	}
}

func fieldPath(loc []string) string { return strings.Join(loc, ".") }

func joinField(parent, name string) string {
	if name == "" {
		name = `""` // a key that is the empty string still has to be named
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}
