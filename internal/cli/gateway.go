package cli

import (
	"context"

	"github.com/VictoriaMetrics/metrics"
	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/gateway"
	natsfn "github.com/natsfn/natsfn/runtime"
)

func gatewayCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "gateway",
		Usage: "serve the HTTP API, mapping each route to a NATS request",
		Description: "POST /orders, GET /orders/{id}, GET /products, GET /products/{id}; /openapi.json describes\n" +
			"them. /healthz, /readyz and /metrics are on the same address.",
		Flags: append(append(append([]ucli.Flag{natsURLFlag(),
			&ucli.DurationFlag{Name: "shutdown-timeout", Usage: "time in-flight HTTP requests get to finish on SIGTERM", Value: 25e9, Sources: ucli.EnvVars("NATSFN_SHUTDOWN_TIMEOUT")},
		}, natsAuthFlags()...), gatewayFlags("127.0.0.1:8080")...), logFlags()...),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			opts, err := natsOptions(cmd)
			if err != nil {
				return err
			}
			m := metrics.NewSet()
			cfg := gatewayConfig(cmd)
			cfg.Logger, cfg.Metrics = &log, m
			// Listen first: /healthz answers and /readyz says "connecting"
			// while NATS is not there yet.
			g, err := gateway.New(cfg, nil, functions.Routes())
			if err != nil {
				return err
			}
			if err := g.Listen(); err != nil {
				return err
			}
			sctx, stop := context.WithCancel(ctx)
			defer stop()
			served := make(chan error, 1)
			go func() { served <- g.Serve(sctx, cmd.Duration("shutdown-timeout")) }()
			nc, err := natsfn.Connect(ctx, natsfn.Config{URL: cmd.String("nats-url"), Name: "natsfn-gateway",
				NATSOptions: opts, InboxPrefix: "_INBOX.gateway", Logger: &log, Metrics: m})
			if err != nil {
				stop()
				serr := <-served
				if ctx.Err() != nil {
					return serr // asked to stop while connecting
				}
				return err
			}
			defer nc.Close()
			g.Attach(nc)
			return <-served
		},
	}
}
