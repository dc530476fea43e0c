package natsfn

import (
	"errors"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
)

// Config holds the settings of a Runtime. Zero values take the defaults of
// SetDefaults; Validate reports settings that cannot work.
type Config struct {
	// URL of the NATS server or cluster (comma-separated); default nats://127.0.0.1:4222.
	URL string
	// Name is the client connection name shown in the server's monitoring.
	Name string
	// NATSOptions add connection options (credentials, TLS, ...).
	NATSOptions []nats.Option
	// InboxPrefix is where replies to this runtime's own requests (and
	// JetStream API calls) arrive; `natsfn nats-config` allows each service
	// only "_INBOX.<service>.>". Default "_INBOX".
	InboxPrefix string

	// Concurrency is how many requests of one function may run at once in
	// this replica, and how many of its events; default 8. A function's
	// FuncConfig.Concurrency overrides it.
	Concurrency int
	// Timeout bounds one invocation; default 30s.
	Timeout time.Duration
	// ShutdownTimeout is how long in-flight invocations get to finish after
	// SIGTERM before they are cancelled; default 25s.
	ShutdownTimeout time.Duration

	// ConnectBackoffMin and ConnectBackoffMax bound the exponential backoff
	// (with jitter) between attempts to reach NATS at start; default 100ms and 5s.
	ConnectBackoffMin time.Duration
	ConnectBackoffMax time.Duration
	// ReconnectWait is the pause between reconnect attempts once connected;
	// default 2s. Reconnects go on forever.
	ReconnectWait time.Duration
	// ReconnectBufSize is how many bytes of outgoing messages are kept while
	// disconnected; default 8 MiB.
	ReconnectBufSize int

	// AdminAddr is where /healthz, /readyz and /metrics are served, e.g.
	// ":8081"; empty disables the admin server.
	AdminAddr string

	// Events configures event triggers, streams and dead letters.
	Events EventsConfig

	// Logger is the base logger; default JSON lines on stderr at info level.
	Logger *zerolog.Logger
	// TracerProvider, if set, receives a span per invocation and per message
	// sent on its behalf; default: built from the standard OTEL_*
	// environment variables, and none (tracing off) when they are unset.
	TracerProvider trace.TracerProvider

	// Metrics is the VictoriaMetrics set the runtime records into (add your
	// own metrics to it); default a new one.
	Metrics *metrics.Set
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	if c.Name == "" {
		c.Name = "natsfn"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 25 * time.Second
	}
	if c.ConnectBackoffMin == 0 {
		c.ConnectBackoffMin = 100 * time.Millisecond
	}
	if c.ConnectBackoffMax == 0 {
		c.ConnectBackoffMax = 5 * time.Second
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = 2 * time.Second
	}
	if c.ReconnectBufSize == 0 {
		c.ReconnectBufSize = 8 << 20
	}
	if c.Logger == nil {
		l := zerolog.New(os.Stderr).With().Timestamp().Logger()
		c.Logger = &l
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	c.Events.SetDefaults()
}

// Validate reports settings that cannot work, after defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, configError("concurrency %d: must be at least 1", c.Concurrency))
	}
	if c.Timeout < 0 || c.ShutdownTimeout < 0 {
		errs = append(errs, configError("timeouts must not be negative"))
	}
	if c.ConnectBackoffMin <= 0 || c.ConnectBackoffMax < c.ConnectBackoffMin {
		errs = append(errs, configError("connect backoff %s..%s: need 0 < min <= max", c.ConnectBackoffMin, c.ConnectBackoffMax))
	}
	if c.ReconnectBufSize < 0 {
		errs = append(errs, configError("reconnect buffer size must not be negative"))
	}
	errs = append(errs, c.Events.Validate())
	return errors.Join(errs...)
}
