package natsfn

import (
	"errors"
	"time"
)

type (
	// Stream declares a JetStream stream a service publishes its events on.
	// The runtime creates it, or updates it to this configuration, at start.
	Stream struct {
		Name     string
		Subjects []string // e.g. "orders.>"
		// MaxAge bounds how long events are kept; default EventsConfig.MaxAge.
		MaxAge time.Duration
	}

	// EventsConfig holds the settings of event triggers, streams and the
	// dead-letter stream. Zero values take defaults.
	EventsConfig struct {
		// Replicas of every stream and bucket the runtime creates; 3 on a
		// 3-node cluster. Default 1.
		Replicas int
		// MaxAge of events in declared streams; default 7 days.
		MaxAge time.Duration
		// Duplicates is the window in which a repeated Nats-Msg-Id is dropped,
		// and how long an event's invocation is remembered as done; default 10m.
		Duplicates time.Duration
		// AckWait is how long a delivery may go without an ack or a progress
		// signal before JetStream redelivers it; default 30s.
		AckWait time.Duration
		// MaxDeliver is how many times one event is delivered before it goes
		// to the dead-letter stream; default 5.
		MaxDeliver int
		// MaxAckPending caps the unacknowledged events of one consumer across
		// all replicas; default 1000.
		MaxAckPending int
		// RetryMin and RetryMax bound the exponential backoff before a
		// transient failure is retried; default 1s and 1m.
		RetryMin time.Duration
		RetryMax time.Duration
		// DeadLetterMaxAge is how long dead letters are kept; default 30 days.
		DeadLetterMaxAge time.Duration
	}
)

// SetDefaults fills the zero values.
func (c *EventsConfig) SetDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	def(&c.MaxAge, 7*24*time.Hour)
	def(&c.Duplicates, 10*time.Minute)
	def(&c.AckWait, 30*time.Second)
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 1000
	}
	def(&c.RetryMin, time.Second)
	def(&c.RetryMax, time.Minute)
	def(&c.DeadLetterMaxAge, 30*24*time.Hour)
}

// Validate reports settings that cannot work, after defaults.
func (c *EventsConfig) Validate() error {
	var errs []error
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, configError("events: replicas %d: must be 1 to 5", c.Replicas))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, configError("events: max deliver %d: must be at least 1", c.MaxDeliver))
	}
	if c.MaxAckPending < 1 {
		errs = append(errs, configError("events: max ack pending %d: must be at least 1", c.MaxAckPending))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, configError("events: retry backoff %s..%s: need 0 < min <= max", c.RetryMin, c.RetryMax))
	}
	if c.AckWait < time.Second/10 || c.MaxAge <= 0 || c.Duplicates <= 0 || c.DeadLetterMaxAge <= 0 {
		errs = append(errs, configError("events: ack wait must be at least 100ms and ages positive"))
	}
	return errors.Join(errs...)
}

// retryDelay is the backoff before delivery n+1 after delivery n failed
// transiently: RetryMin doubled per delivery, capped at RetryMax.
func (c *EventsConfig) retryDelay(delivered uint64) time.Duration {
	d := c.RetryMin
	for i := uint64(1); i < delivered && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}
