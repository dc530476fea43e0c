package natsfn

import (
	"cmp"
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Connect dials NATS with the connection settings of cfg (URL, options,
// backoff, reconnect buffer), logging and counting what happens, exactly as
// a Runtime does; the gateway and tools use it for their own connections.
// It waits for NATS until ctx ends; wrong credentials end it at once.
func Connect(ctx context.Context, cfg Config) (*nats.Conn, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return connect(ctx, &cfg, *cfg.Logger, &recorder{set: cfg.Metrics}, connHooks{})
}

// connHooks let a Runtime follow its connection: permission errors, which
// NATS reports asynchronously, tell a start-up step that it was denied.
type connHooks struct {
	progress *progress
}

// connect dials NATS until it answers or ctx ends, backing off exponentially
// with jitter, so a replica started before NATS waits for it with clear logs.
// Once connected, the client reconnects forever and buffers what is
// published meanwhile.
func connect(ctx context.Context, cfg *Config, log zerolog.Logger, m *recorder, h connHooks) (*nats.Conn, error) {
	opts := append([]nats.Option{
		nats.Name(cfg.Name),
		nats.CustomInboxPrefix(cmp.Or(cfg.InboxPrefix, nats.InboxPrefix[:len(nats.InboxPrefix)-1])),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/4, cfg.ReconnectWait/4),
		nats.ReconnectBufSize(cfg.ReconnectBufSize),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			m.connected(false)
			if nc.IsClosed() || nc.IsDraining() {
				return // our own shutdown, not an outage
			}
			m.disconnected()
			log.Warn().AnErr("cause", err).Msg("disconnected from NATS; reconnecting")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			m.connected(true)
			m.reconnected()
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS")
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			m.connected(false)
			log.Info().Msg("NATS connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			h.progress.notePermission(err)
			ev := log.Error().AnErr("cause", err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("NATS async error")
		}),
	}, cfg.NATSOptions...)

	var nc *nats.Conn
	attempts := 0
	step := "connect to NATS at " + redactURLs(cfg.URL) + " (is the server up and NATS_URL right?)"
	err := awaitStep(ctx, log, stepBackoff{cfg.ConnectBackoffMin, cfg.ConnectBackoffMax}, h.progress, step, func(context.Context) error {
		attempts++
		m.connectAttempt()
		c, err := nats.Connect(cfg.URL, opts...)
		nc = c
		return err
	})
	if err != nil {
		return nil, err
	}
	m.connected(true)
	m.set.GetOrCreateCounter("natsfn_nats_disconnects_total") // 0 until the first outage, not absent
	m.set.GetOrCreateCounter("natsfn_nats_reconnects_total")
	log.Info().Str("server", nc.ConnectedUrlRedacted()).Int("attempts", attempts).Msg("connected to NATS")
	return nc, nil
}

// drainConn flushes what is buffered, waits for subscription handlers to
// finish and closes the connection, within the deadline.
func drainConn(nc *nats.Conn, deadline time.Duration) {
	if nc.IsClosed() {
		return
	}
	if !nc.IsConnected() {
		nc.Close() // nothing can be flushed to a server we cannot reach
		return
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(deadline):
		nc.Close()
	}
}

// redactURLs hides the passwords of a comma-separated list of server URLs,
// for logs and /readyz.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			if _, has := u.User.Password(); !has {
				u.User = url.User("redacted") // a token in the user part
			}
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
