package gateway

import (
	"encoding/json"
	"net/http"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// problem is every error body the gateway sends.
type problem struct {
	Error   string              `json:"error"`
	Details []natsfn.FieldError `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeProblem(w http.ResponseWriter, status int, msg string, details ...natsfn.FieldError) {
	body, _ := json.Marshal(problem{Error: msg, Details: details})
	writeJSON(w, status, body)
}

// statusOf maps a function's error to an HTTP status. Codes the gateway
// does not know become 502: the function answered something odd.
func statusOf(e *natsfn.Error) int {
	switch e.Code {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity,
		http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusInternalServerError:
		return e.Code
	}
	return http.StatusBadGateway
}
