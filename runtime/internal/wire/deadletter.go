package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DeadLetter is one entry of the dead-letter stream.
type DeadLetter struct {
	ID         uint64 // sequence in the dead-letter stream
	Subject    string // where the event was published
	Stream     string
	Sequence   uint64 // position in its stream
	Service    string
	Function   string
	Error      string
	Class      string
	Deliveries int
	Time       time.Time
	Header     nats.Header // the original headers
	Data       []byte
}

// Msg is the dead letter as stored. Its Nats-Msg-Id is derived from the
// original's position, so the consumer and the MAX_DELIVERIES advisory
// watcher cannot both store it.
func (d DeadLetter) Msg() *nats.Msg {
	m := nats.NewMsg(DeadLetterSubject + "." + d.Service + "." + d.Function)
	m.Data = d.Data
	for k, v := range d.Header {
		switch {
		case k == nats.MsgIdHdr:
			m.Header[HeaderDLQMsgID] = v
		case serverControl(k):
			// What the server acted on when it stored the original (a tick's
			// scheduler, a purge's roll-up, a marker's TTL) would make it
			// refuse or act on the dead letter.
		default:
			m.Header[k] = v
		}
	}
	m.Header.Set(HeaderDLQSubject, d.Subject)
	m.Header.Set(HeaderDLQStream, d.Stream)
	m.Header.Set(HeaderDLQSequence, strconv.FormatUint(d.Sequence, 10))
	m.Header.Set(HeaderDLQService, d.Service)
	m.Header.Set(HeaderDLQFunction, d.Function)
	m.Header.Set(HeaderDLQError, d.Error)
	m.Header.Set(HeaderDLQClass, d.Class)
	m.Header.Set(HeaderDLQDeliveries, strconv.Itoa(d.Deliveries))
	m.Header.Set(HeaderDLQTime, d.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dlq|%s|%d", d.Stream, d.Sequence))
	return m
}

func ParseDeadLetter(id uint64, m *nats.Msg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		ID: id, Subject: h.Get(HeaderDLQSubject), Stream: h.Get(HeaderDLQStream),
		Service: h.Get(HeaderDLQService), Function: h.Get(HeaderDLQFunction),
		Error: h.Get(HeaderDLQError), Class: h.Get(HeaderDLQClass), Data: m.Data,
		Header: nats.Header{},
	}
	d.Sequence, _ = strconv.ParseUint(h.Get(HeaderDLQSequence), 10, 64)
	d.Deliveries, _ = strconv.Atoi(h.Get(HeaderDLQDeliveries))
	d.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderDLQTime))
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, HeaderDLQPrefix) && k != HeaderDLQMsgID, k == nats.MsgIdHdr:
		case k == HeaderDLQMsgID:
			d.Header[nats.MsgIdHdr] = v
		default:
			d.Header[k] = v
		}
	}
	return d
}

// serverControl reports the headers nats-server acts on when it stores a
// message (roll-ups, TTLs, schedules, compare-and-set expectations, marker
// reasons), as opposed to those that only travel with it.
func serverControl(header string) bool {
	switch header {
	case "Nats-Rollup", "Nats-TTL", "Nats-Scheduler", "Nats-Marker-Reason":
		return true
	}
	return strings.HasPrefix(header, "Nats-Schedule") || strings.HasPrefix(header, "Nats-Expected-") ||
		strings.HasPrefix(header, "Nats-Batch-")
}
