package gateway

// Route maps one HTTP method and path to one NATS request subject. The
// table is all the gateway knows of the application: no business logic.
type Route struct {
	Method  string
	Path    string // a net/http pattern path; {name} wildcards become JSON fields of the request
	Subject string
	Summary string
	// Body: the request body is the NATS payload (JSON); otherwise the
	// payload is the path wildcards as a JSON object.
	Body bool
	// Status answers success; Location, if set, is filled from the reply's
	// JSON fields, e.g. "/orders/{order_id}".
	Status   int
	Location string
	// Forward lists request headers passed on to the function.
	Forward []string
	// In and Out are the request and response types, for /openapi.json.
	In, Out any
}
