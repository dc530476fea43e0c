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
		switch k {
		case nats.MsgIdHdr:
			m.Header[HeaderDLQMsgID] = v
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
