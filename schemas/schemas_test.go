package schemas_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsfn/natsfn/schemas"
)

// TestCommittedSchemasAreCurrent fails when a struct changed but its
// committed schema did not: run `task schemas` and commit the result.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	want := map[string]bool{}
	for _, c := range schemas.Contracts() {
		want[c.Name+".json"] = true
		doc, err := schemas.Document(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("json", c.Name+".json"))
		if err != nil {
			t.Errorf("%s: not committed (run `task schemas`): %v", c.Name, err)
			continue
		}
		if !bytes.Equal(doc, committed) {
			t.Errorf("json/%s.json is stale: run `task schemas` and commit it", c.Name)
		}
	}
	files, _ := filepath.Glob(filepath.Join("json", "*.json"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s has no contract any more: delete it", f)
		}
	}
}

func TestStreamsDoNotCaptureRequestSubjects(t *testing.T) {
	requests := []string{schemas.SubjectCreateOrder, schemas.SubjectGetOrder, schemas.SubjectListProducts,
		schemas.SubjectGetProduct, schemas.SubjectCharge, schemas.SubjectRefund, schemas.SubjectCharges, schemas.SubjectSimulate}
	events := []string{schemas.EventOrderCreated, schemas.EventOrderConfirmed, schemas.EventOrderCancelled,
		schemas.EventStockReserved, schemas.EventStockRejected, schemas.EventStockReleased,
		schemas.EventPaymentCharged, schemas.EventPaymentFailed, schemas.EventPaymentRefunded}
	captured := func(subject string) bool {
		for _, s := range schemas.Streams() {
			for _, p := range s.Subjects {
				if match(p, subject) {
					return true
				}
			}
		}
		return false
	}
	for _, r := range requests {
		if captured(r) {
			t.Errorf("request subject %s is captured by a stream", r)
		}
	}
	for _, e := range events {
		if !captured(e) {
			t.Errorf("event %s is kept by no stream", e)
		}
	}
}

// match is NATS subject matching for a pattern against a literal subject.
func match(pattern, subject string) bool {
	p, s := bytes.Split([]byte(pattern), []byte(".")), bytes.Split([]byte(subject), []byte("."))
	for i := range p {
		if string(p[i]) == ">" {
			return len(s) > i
		}
		if i >= len(s) {
			return false
		}
		if string(p[i]) != "*" && string(p[i]) != string(s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
