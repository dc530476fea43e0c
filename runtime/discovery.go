package natsfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
)

// instance is one service of this runtime as `nats micro ls|info|stats`
// see it. It answers the NATS service protocol (PING, INFO and STATS on
// $SRV.<verb>[.<name>[.<id>]]) with nats.go micro's own types, so every
// micro tool discovers it like any micro service; what it does not take
// from micro is micro's dispatch, which runs one handler at a time per
// subscription (see the package doc: Concurrency and honest stats).
type instance struct {
	def     Service
	id      string
	started time.Time
	fns     []*binding
	subs    []*nats.Subscription
	log     zerolog.Logger
}

func newInstance(def Service, log zerolog.Logger) *instance {
	id := nuid.Next()
	return &instance{def: def, id: id, started: time.Now().UTC(),
		log: log.With().Str("service", def.Name).Str("instance", id).Logger()}
}

func (s *instance) identity() micro.ServiceIdentity {
	meta := maps.Clone(s.def.Metadata)
	if meta == nil {
		meta = map[string]string{} // micro sends {} rather than null
	}
	return micro.ServiceIdentity{Name: s.def.Name, ID: s.id, Version: s.def.Version, Metadata: meta}
}

// announce subscribes to the protocol's subjects, as micro does: every
// verb for all services, for this service's name, and for this instance.
func (s *instance) announce(nc *nats.Conn) error {
	for verb, answer := range map[micro.Verb]func() any{
		micro.PingVerb:  s.ping,
		micro.InfoVerb:  s.info,
		micro.StatsVerb: s.stats,
	} {
		for _, subject := range []struct{ name, id string }{{"", ""}, {s.def.Name, ""}, {s.def.Name, s.id}} {
			subj, err := micro.ControlSubject(verb, subject.name, subject.id)
			if err != nil {
				return err
			}
			sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
				body, err := json.Marshal(answer())
				if err == nil {
					err = m.Respond(body)
				}
				if err != nil && !errors.Is(err, nats.ErrMsgNoReply) {
					s.log.Warn().AnErr("cause", err).Str("subject", m.Subject).Msg("cannot answer discovery")
				}
			})
			if err != nil {
				return fmt.Errorf("service %s: subscribe %s: %w", s.def.Name, subj, err)
			}
			s.subs = append(s.subs, sub)
		}
	}
	return nil
}

// withdraw leaves discovery.
func (s *instance) withdraw() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
}

func (s *instance) ping() any {
	return micro.Ping{ServiceIdentity: s.identity(), Type: micro.PingResponseType}
}

func (s *instance) info() any {
	info := micro.Info{ServiceIdentity: s.identity(), Type: micro.InfoResponseType, Description: s.def.Description,
		Endpoints: make([]micro.EndpointInfo, 0, len(s.fns))}
	for _, b := range s.fns {
		info.Endpoints = append(info.Endpoints, micro.EndpointInfo{
			Name: b.fn.Name, Subject: b.subject, QueueGroup: micro.DefaultQueueGroup, Metadata: b.metadata,
		})
	}
	return info
}

func (s *instance) stats() any {
	st := micro.Stats{ServiceIdentity: s.identity(), Type: micro.StatsResponseType, Started: s.started,
		Endpoints: make([]*micro.EndpointStats, 0, len(s.fns))}
	for _, b := range s.fns {
		e := b.requests.snapshot()
		e.Name, e.Subject, e.QueueGroup = b.fn.Name, b.subject, micro.DefaultQueueGroup
		e.Data, _ = json.Marshal(b.stats())
		st.Endpoints = append(st.Endpoints, &e)
	}
	return st
}

// requestStats are one function's figures as micro keeps an endpoint's:
// every request, every error reply, the time of each invocation.
type requestStats struct {
	mu         sync.Mutex
	requests   int
	errors     int
	lastError  string
	processing time.Duration
}

func (r *requestStats) record(took time.Duration, err *Error) {
	r.mu.Lock()
	r.requests++
	r.processing += took
	if err != nil {
		r.errors++
		r.lastError = fmt.Sprintf("%d:%s", err.Code, err.Message)
	}
	r.mu.Unlock()
}

func (r *requestStats) snapshot() micro.EndpointStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := micro.EndpointStats{NumRequests: r.requests, NumErrors: r.errors, LastError: r.lastError, ProcessingTime: r.processing}
	if r.requests > 0 {
		e.AverageProcessingTime = r.processing / time.Duration(r.requests)
	}
	return e
}
