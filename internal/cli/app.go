package cli

import (
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/gateway"
)

// appFlags tune the order saga's services.
func appFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.DurationFlag{Name: "order-timeout", Usage: "cancel orders still pending after this long", Value: 2 * time.Minute, Sources: ucli.EnvVars("NATSFN_ORDER_TIMEOUT")},
		&ucli.DurationFlag{Name: "payment-latency", Usage: "simulated payment provider latency per call", Value: 0, Sources: ucli.EnvVars("NATSFN_PAYMENT_LATENCY")},
		&ucli.Float64Flag{Name: "payment-failure-rate", Usage: "share of simulated provider calls that fail transiently (0..1)", Value: 0, Sources: ucli.EnvVars("NATSFN_PAYMENT_FAILURE_RATE")},
	}
}

func appConfig(cmd *ucli.Command) functions.Config {
	return functions.Config{
		Orders:   orders.Config{Timeout: cmd.Duration("order-timeout")},
		Provider: paysim.Config{Latency: cmd.Duration("payment-latency"), FailureRate: cmd.Float64("payment-failure-rate")},
	}
}

// gatewayFlags tune the HTTP edge.
func gatewayFlags(httpDefault string) []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "http", Usage: "address the HTTP API listens on", Value: httpDefault, Sources: ucli.EnvVars("NATSFN_HTTP")},
		&ucli.DurationFlag{Name: "request-timeout", Usage: "how long the gateway waits for a function", Value: 10 * time.Second, Sources: ucli.EnvVars("NATSFN_REQUEST_TIMEOUT")},
		&ucli.IntFlag{Name: "max-in-flight", Usage: "HTTP requests served at once before answering 429", Value: 1024, Sources: ucli.EnvVars("NATSFN_MAX_IN_FLIGHT")},
	}
}

func gatewayConfig(cmd *ucli.Command) gateway.Config {
	return gateway.Config{
		Addr:           cmd.String("http"),
		Title:          functions.Title,
		RequestTimeout: cmd.Duration("request-timeout"),
		MaxInFlight:    cmd.Int("max-in-flight"),
	}
}
