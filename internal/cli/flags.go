package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	ucli "github.com/urfave/cli/v3"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// Flags shared by the commands that run functions. Each has an environment
// variable, so containers are configured without a command line.
func natsURLFlag() ucli.Flag {
	return &ucli.StringFlag{
		Name: "nats-url", Usage: "NATS server or cluster URL(s), comma-separated",
		Value: "nats://127.0.0.1:4222", Sources: ucli.EnvVars("NATS_URL"),
	}
}

func logFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "log-format", Usage: "json, console, or auto (console on a terminal, json otherwise)", Value: "auto", Sources: ucli.EnvVars("NATSFN_LOG_FORMAT")},
		&ucli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", Value: "info", Sources: ucli.EnvVars("NATSFN_LOG_LEVEL")},
	}
}

func runtimeFlags(adminDefault string) []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "admin-addr", Usage: "address of the admin server (/healthz, /readyz, /metrics); empty disables it", Value: adminDefault, Sources: ucli.EnvVars("NATSFN_ADMIN_ADDR")},
		&ucli.IntFlag{Name: "concurrency", Usage: "invocations of one function running at once per replica", Value: 8, Sources: ucli.EnvVars("NATSFN_CONCURRENCY")},
		&ucli.DurationFlag{Name: "timeout", Usage: "limit of one invocation", Value: 30 * time.Second, Sources: ucli.EnvVars("NATSFN_TIMEOUT")},
		&ucli.DurationFlag{Name: "shutdown-timeout", Usage: "time in-flight invocations get to finish on SIGTERM", Value: 25 * time.Second, Sources: ucli.EnvVars("NATSFN_SHUTDOWN_TIMEOUT")},
		&ucli.IntFlag{Name: "replicas", Usage: "replicas of the streams and buckets natsfn creates (3 on a 3-node cluster)", Value: 1, Sources: ucli.EnvVars("NATSFN_REPLICAS")},
		&ucli.DurationFlag{Name: "ack-wait", Usage: "time an event may go without an ack or progress before JetStream redelivers it", Value: 30 * time.Second, Sources: ucli.EnvVars("NATSFN_ACK_WAIT")},
		&ucli.IntFlag{Name: "max-deliver", Usage: "deliveries of one event before it is dead-lettered", Value: 5, Sources: ucli.EnvVars("NATSFN_MAX_DELIVER")},
		&ucli.IntFlag{Name: "max-ack-pending", Usage: "unacknowledged events per consumer across all replicas", Value: 1000, Sources: ucli.EnvVars("NATSFN_MAX_ACK_PENDING")},
		&ucli.DurationFlag{Name: "retry-min", Usage: "first backoff before a transient failure is retried; doubles per delivery", Value: time.Second, Sources: ucli.EnvVars("NATSFN_RETRY_MIN")},
		&ucli.DurationFlag{Name: "retry-max", Usage: "longest backoff before a retry", Value: time.Minute, Sources: ucli.EnvVars("NATSFN_RETRY_MAX")},
	}
}

// newLogger builds the process logger from --log-format and --log-level.
func newLogger(cmd *ucli.Command) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(cmd.String("log-level")))
	if err != nil || level == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: use debug, info, warn or error", cmd.String("log-level"))
	}
	var l zerolog.Logger
	switch format := cmd.String("log-format"); {
	case format == "console" || (format == "auto" && isatty.IsTerminal(os.Stderr.Fd())):
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	case format == "json" || format == "auto":
		l = zerolog.New(os.Stderr)
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format %q: use json, console or auto", format)
	}
	return l.Level(level).With().Timestamp().Logger(), nil
}

// runtimeConfig turns the shared flags into a natsfn.Config.
func runtimeConfig(cmd *ucli.Command, log *zerolog.Logger, url string) natsfn.Config {
	return natsfn.Config{
		URL:             url,
		Name:            "natsfn-" + cmd.Name,
		Concurrency:     cmd.Int("concurrency"),
		Timeout:         cmd.Duration("timeout"),
		ShutdownTimeout: cmd.Duration("shutdown-timeout"),
		AdminAddr:       cmd.String("admin-addr"),
		Logger:          log,
		Events: natsfn.EventsConfig{
			Replicas:      cmd.Int("replicas"),
			AckWait:       cmd.Duration("ack-wait"),
			MaxDeliver:    cmd.Int("max-deliver"),
			MaxAckPending: cmd.Int("max-ack-pending"),
			RetryMin:      cmd.Duration("retry-min"),
			RetryMax:      cmd.Duration("retry-max"),
		},
	}
}

func nopLog() zerolog.Logger { return zerolog.Nop() }
