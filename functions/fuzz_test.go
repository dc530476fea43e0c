package functions_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// requestSubjects lists the subject of every function of the application:
// what `nats micro info` names and `nats req` can reach.
func requestSubjects(sim *paysim.Provider) []string {
	var subjects []string
	all := testkit.Must(functions.All(functions.Config{Sim: sim}))
	for _, name := range functions.Names() {
		svc := all[name]
		for _, fn := range svc.Functions {
			subj := fn.Subject
			if subj == "" {
				subj = svc.Name + "." + fn.Name
			}
			subjects = append(subjects, subj)
		}
	}
	return subjects
}

// fuzzHeaders are the headers a caller can set that the runtime or a
// function reads.
var fuzzHeaders = []string{client.HeaderCorrelationID, schemas.HeaderIdempotencyKey, nats.MsgIdHdr,
	"traceparent", "Natsfn-Delivery", "Natsfn-Input-Id", "ce-id", "ce-type", "ce-specversion"}

// FuzzFunctionRequests sends arbitrary bytes and headers straight to each
// function's request subject over NATS, as `nats req` would: never a 5xx,
// never a panic (the reply would not come), always a JSON error naming the
// problem. The one 5xx allowed is the sandbox token tok_flaky's simulated
// card network timeout, which is that token's whole point.
func FuzzFunctionRequests(f *testing.F) {
	s := sagatest.Start(f, sagatest.Options{})
	subjects := requestSubjects(s.Sim)
	valid := map[string]string{
		schemas.SubjectCreateOrder:  `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`,
		schemas.SubjectGetOrder:     `{"order_id":"x"}`,
		schemas.SubjectGetProduct:   `{"product_id":"sku-1"}`,
		schemas.SubjectListProducts: `{}`,
		schemas.SubjectCharge:       `{"order_id":"o-1","token":"tok_visa","amount_cents":100}`,
		schemas.SubjectRefund:       `{"order_id":"o-1"}`,
		schemas.SubjectSimulate:     `{"latency_ms":0,"failure_rate":0}`,
		"inventory.reserve":         `{"order_id":"o-2","customer_id":"c","items":[{"product_id":"sku-1","quantity":1}],"payment_token":"tok_visa"}`,
		"payment.charge":            `{"order_id":"o-3","total_cents":100,"payment_token":"tok_visa"}`,
		"orders.confirm":            `{"order_id":"o-4","amount_cents":1,"charge_id":"ch"}`,
	}
	for i, subj := range subjects {
		body := valid[subj]
		f.Add(uint8(i), []byte(body), uint8(0), "")
		f.Add(uint8(i), []byte(`{"order_id":"*","product_id":">"}`), uint8(1), strings.Repeat("k", 300))
		f.Add(uint8(i), []byte("\x00\xff{"), uint8(0), "\x1b[2J")
		f.Add(uint8(i), []byte(`[]`), uint8(4), "9/1")
	}
	f.Fuzz(func(t *testing.T, subject uint8, body []byte, header uint8, value string) {
		defer s.Sim.SetBehaviour(paysim.Config{}) // a simulate call lasts one input
		subj := subjects[int(subject)%len(subjects)]
		msg := nats.NewMsg(subj)
		msg.Data = body
		// A NATS header is a line: CR and LF cannot be sent, by any client.
		value = strings.NewReplacer("\r", "", "\n", "").Replace(value)
		if value != "" {
			msg.Header.Set(fuzzHeaders[int(header)%len(fuzzHeaders)], value)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reply, err := s.NC.RequestMsgWithContext(ctx, msg)
		if err != nil {
			t.Fatalf("%s: no answer (%v): a panic or a hang", subj, err)
		}
		code := reply.Header.Get(micro.ErrorCodeHeader)
		if !json.Valid(reply.Data) {
			t.Fatalf("%s answered %s with no JSON: %q", subj, code, reply.Data)
		}
		if code == "" {
			return
		}
		var a sagatest.Answer
		if err := json.Unmarshal(reply.Data, &a); err != nil {
			t.Fatalf("%s: error %s is not a JSON object: %q", subj, code, reply.Data)
		}
		n, err := strconv.Atoi(code)
		if err != nil {
			t.Fatalf("%s: error code %q is not a number", subj, code)
		}
		if n >= 500 {
			if subj == schemas.SubjectCharge && a.Error == "card network timeout, try again" {
				return // tok_flaky
			}
			t.Fatalf("%s: input %q got %s %q", subj, body, code, reply.Data)
		}
		sagatest.CheckProblem(t, n, a, reply.Data)
	})
}
