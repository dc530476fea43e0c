package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// Schedule triggers. The timer is a scheduled message that nats-server
// keeps and fires (message schedules, nats-server 2.12+), in a stream of
// the runtime's own: natsfn.schedule.<service>.<function> holds the
// schedule, and each tick lands on natsfn.tick.<service>.<function>, which
// a durable consumer shared by the replicas delivers like an event. The
// stream keeps one message per subject: the definition, and the last tick
// not yet superseded, so ticks that fell due while every replica was down
// run once, the last one; the server itself fires a schedule once after
// its own downtime, not once per missed tick.
const scheduleStream = wire.ScheduleStream

// definition is a schedule as stored: its body travels into every tick,
// which tells a replica whether a once-only schedule has fired.
type definition struct {
	Schedule string `json:"schedule"`
	TimeZone string `json:"time_zone,omitempty"`
}

func scheduleStreamConfig(ev EventsConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              scheduleStream,
		Description:       "natsfn schedule triggers: each scheduled function's timer and its last tick",
		Subjects:          []string{"natsfn.schedule.>", "natsfn.tick.>"},
		Storage:           jetstream.FileStorage,
		Replicas:          ev.Replicas,
		MaxMsgsPerSubject: 1,
		Duplicates:        ev.Duplicates,
		AllowMsgSchedules: true,
		AllowDirect:       ev.Replicas <= 1,
	}
}

// checkSchedule refuses what nats-server would drop silently.
func checkSchedule(pattern, zone string) error {
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil {
			return fmt.Errorf("time zone %q: %v", zone, err)
		}
	}
	switch {
	case strings.HasPrefix(pattern, "@every "):
		d, err := time.ParseDuration(strings.TrimPrefix(pattern, "@every "))
		if err != nil || d < time.Second {
			return errors.New("@every takes a duration of at least 1s, e.g. @every 30s")
		}
	case strings.HasPrefix(pattern, "@at "):
		if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(pattern, "@at ")); err != nil {
			return errors.New("@at takes an RFC 3339 time, e.g. @at 2026-12-01T09:00:00Z")
		}
	case pattern == "@yearly", pattern == "@annually", pattern == "@monthly", pattern == "@weekly",
		pattern == "@daily", pattern == "@midnight", pattern == "@hourly":
	default:
		if len(strings.Fields(pattern)) != 6 {
			return errors.New("a cron expression has six fields, seconds first: \"0 */5 * * * *\" is every five minutes")
		}
		return nil
	}
	if zone != "" {
		return errors.New("a time zone applies to cron expressions only")
	}
	return nil
}

// ensureSchedule stores the function's schedule unless it is stored as
// wanted already: a replica that restarts leaves the timer running (a
// rewrite would restart an @every interval), and a once-only schedule that
// has fired is not set again.
func (rt *Runtime) ensureSchedule(ctx context.Context, service string, f *Function) error {
	s, err := rt.stream(ctx, scheduleStream)
	if err != nil {
		return err
	}
	subject, tick := wire.ScheduleSubjects(service, f.Name)
	want := definition{Schedule: f.Schedule, TimeZone: f.TimeZone}
	var expect uint64
	m, err := s.GetLastMsgForSubject(ctx, subject)
	switch {
	case err == nil:
		var got definition
		if json.Unmarshal(m.Data, &got) == nil && got == want && m.Header.Get(jetstream.ScheduleTargetHeader) == tick {
			return nil
		}
		expect = m.Sequence
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return err
	case strings.HasPrefix(f.Schedule, "@at "):
		if last, err := s.GetLastMsgForSubject(ctx, tick); err == nil {
			var fired definition
			if json.Unmarshal(last.Data, &fired) == nil && fired == want {
				return nil // fired already
			}
		}
	}
	body, _ := json.Marshal(want)
	opts := []jetstream.PublishOpt{
		scheduleOpt(f.Schedule),
		jetstream.WithScheduleTarget(tick),
		jetstream.WithExpectLastSequencePerSubject(expect),
	}
	if f.TimeZone != "" {
		opts = append(opts, jetstream.WithScheduleTimeZone(f.TimeZone))
	}
	if _, err := rt.js.Publish(ctx, subject, body, opts...); err != nil && !IsConflict(err) {
		return err // a conflict: another replica stored it first
	}
	return nil
}

// scheduleOpt is nats.go's option for a pattern checkSchedule accepted.
func scheduleOpt(pattern string) jetstream.PublishOpt {
	if d, ok := strings.CutPrefix(pattern, "@every "); ok {
		every, _ := time.ParseDuration(d)
		return jetstream.WithScheduleEvery(every)
	}
	if t, ok := strings.CutPrefix(pattern, "@at "); ok {
		at, _ := time.Parse(time.RFC3339, t)
		return jetstream.WithScheduleAt(at)
	}
	return jetstream.WithScheduleCron(pattern)
}

// tickInput is a tick as its function takes it: the second it fell due.
// Schedules fire on whole seconds (nats-server rounds @every to the second;
// cron and @at have no finer unit), and the tick is stored just after.
func tickInput(_ jetstream.Msg, meta *jetstream.MsgMetadata) ([]byte, error) {
	return json.Marshal(meta.Timestamp.UTC().Truncate(time.Second))
}
