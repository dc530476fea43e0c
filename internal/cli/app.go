package cli

import (
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
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
		&ucli.Int64Flag{Name: "low-stock", Usage: "warn in the logs when a product's available stock falls below this (a key-value watch); 0 turns it off", Value: defaultLowStock, Sources: ucli.EnvVars("NATSFN_LOW_STOCK")},
		&ucli.StringFlag{Name: "stock-report", Usage: "log the catalog's stock on this schedule, kept in NATS (\"@every 1m\", a cron expression with seconds such as \"0 0 9 * * *\", or \"@at <RFC 3339 time>\"); empty turns it off", Value: defaultReport, Sources: ucli.EnvVars("NATSFN_STOCK_REPORT")},
		&ucli.StringFlag{Name: "stock-report-tz", Usage: "time zone of a cron --stock-report, e.g. Europe/Paris (default UTC)", Sources: ucli.EnvVars("NATSFN_STOCK_REPORT_TZ")},
	}
}

// The demo's watch and schedule, on unless turned off; `natsfn nats-config`
// grants what these defaults need.
const (
	defaultLowStock = 3
	defaultReport   = "@every 1m"
)

func appConfig(cmd *ucli.Command) functions.Config {
	return functions.Config{
		Orders:    orders.Config{Timeout: cmd.Duration("order-timeout")},
		Inventory: inventory.Config{LowStock: cmd.Int64("low-stock"), Report: cmd.String("stock-report"), ReportTimeZone: cmd.String("stock-report-tz")},
		Provider:  paysim.Config{Latency: cmd.Duration("payment-latency"), FailureRate: cmd.Float64("payment-failure-rate")},
	}
}

// defaultAppConfig is appConfig with every flag at its default.
func defaultAppConfig() functions.Config {
	return functions.Config{Inventory: inventory.Config{LowStock: defaultLowStock, Report: defaultReport}}
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
