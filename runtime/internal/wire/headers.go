package wire

// HeaderCorrelationID carries the correlation id on every request, reply and
// published message, from the HTTP edge through every step.
const HeaderCorrelationID = "X-Correlation-ID"

// CloudEvents 1.0 binary-mode headers: the event's attributes travel as
// message headers and the payload is the JSON data itself.
const (
	HeaderCESpecVersion = "ce-specversion"
	HeaderCEID          = "ce-id"
	HeaderCESource      = "ce-source"
	HeaderCEType        = "ce-type"
	HeaderCETime        = "ce-time"
	HeaderContentType   = "content-type"
	// HeaderTraceParent is the W3C trace context; passed on unchanged.
	HeaderTraceParent = "traceparent"
)

// HeaderReason says why a key was deleted, on its delete marker.
const HeaderReason = "Natsfn-Reason"

// Headers a dead letter carries besides the original ones.
const (
	HeaderDLQPrefix     = "Natsfn-Dlq-"
	HeaderDLQSubject    = "Natsfn-Dlq-Subject"
	HeaderDLQStream     = "Natsfn-Dlq-Stream"
	HeaderDLQSequence   = "Natsfn-Dlq-Sequence"
	HeaderDLQService    = "Natsfn-Dlq-Service"
	HeaderDLQFunction   = "Natsfn-Dlq-Function"
	HeaderDLQError      = "Natsfn-Dlq-Error"
	HeaderDLQClass      = "Natsfn-Dlq-Class"
	HeaderDLQDeliveries = "Natsfn-Dlq-Deliveries"
	HeaderDLQTime       = "Natsfn-Dlq-Time"
	HeaderDLQMsgID      = "Natsfn-Dlq-Original-Msg-Id"
)
