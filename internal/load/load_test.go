package load

import (
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/schemas"
)

func TestSummaryPercentilesAndRates(t *testing.T) {
	start := time.Now()
	r := &Report{Attempted: 5, Codes: map[int]int{202: 4, 503: 1}, PlaceTime: 2 * time.Second}
	for i := range 4 {
		r.Accepted = append(r.Accepted, &Order{ID: string(rune('a' + i)), Placed: start.Add(time.Duration(i) * time.Second / 2),
			Accept: time.Duration(i+1) * time.Millisecond, Settled: time.Duration(i+1) * 100 * time.Millisecond, Status: schemas.StatusConfirmed,
			Items: []schemas.OrderItem{{ProductID: "p", Quantity: 2}}})
	}
	r.Accepted[3].Status, r.Accepted[3].Settled = schemas.StatusPending, 0
	s := r.Summary()
	if s.Accepted != 4 || s.Completed != 3 || s.Accept.Max != 4*time.Millisecond || s.EndToEnd.P50 != 200*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	if s.AcceptedRate != 2 || s.Codes["503"] != 1 || s.Outcomes["pending"] != 1 {
		t.Fatalf("rates/codes/outcomes %+v", s)
	}
	var b strings.Builder
	s.Table(&b)
	if !strings.Contains(b.String(), "accepted (POST → 202)") || !strings.Contains(b.String(), "503 1") {
		t.Fatalf("table:\n%s", b.String())
	}
	r.Retried, r.Unknown = 2, 1
	b.Reset()
	r.Summary().Table(&b)
	if !strings.Contains(b.String(), "2 orders were sent again") || !strings.Contains(b.String(), "UNKNOWN: 1 orders") {
		t.Fatalf("table does not report resent and unknown orders:\n%s", b.String())
	}
	if c := r.Confirmed(); c["p"] != 6 {
		t.Fatalf("confirmed %v", c)
	}
}

func TestCheckStock(t *testing.T) {
	before := map[string]int64{"a": 10, "b": 5}
	ok := []schemas.Product{{ProductID: "a", Available: 7}, {ProductID: "b", Available: 5}}
	if err := CheckStock(before, ok, map[string]int64{"a": 3}); err != nil {
		t.Fatal(err)
	}
	bad := []schemas.Product{{ProductID: "a", Available: 6, Reserved: 1}, {ProductID: "b", Available: 5}}
	err := CheckStock(before, bad, map[string]int64{"a": 3})
	if err == nil || !strings.Contains(err.Error(), "a: 1 still reserved") || !strings.Contains(err.Error(), "initial 10 != available 6 + confirmed 3") {
		t.Fatalf("err %v", err)
	}
}
