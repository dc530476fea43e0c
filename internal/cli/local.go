//go:build !nolocal

package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	ucli "github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/gateway"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

func localCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "local",
		Usage: "run everything in one process: an embedded NATS with JetStream, every function and the gateway",
		Description: "For trying natsfn on a laptop: no NATS install needed. JetStream data lives under\n" +
			"--data, so a restart keeps orders and stock. A demo catalog is seeded when empty.\n" +
			"Ctrl-C stops it cleanly.",
		Flags: append(append(append(append([]ucli.Flag{
			&ucli.StringFlag{Name: "nats", Usage: "host:port the embedded NATS listens on", Value: "127.0.0.1:4222", Sources: ucli.EnvVars("NATSFN_LOCAL_NATS")},
			&ucli.StringFlag{Name: "data", Usage: "directory for JetStream storage", Value: "natsfn-data", Sources: ucli.EnvVars("NATSFN_DATA")},
			&ucli.IntFlag{Name: "stock", Usage: "units of each demo product when the catalog is seeded", Value: 100, Sources: ucli.EnvVars("NATSFN_STOCK")},
		}, gatewayFlags("127.0.0.1:8080")...), logFlags()...), runtimeFlags("127.0.0.1:8081")...), appFlags()...),
		Action: runLocal,
	}
}

func runLocal(ctx context.Context, cmd *ucli.Command) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	host, portText, err := net.SplitHostPort(cmd.String("nats"))
	if err != nil {
		return fmt.Errorf("--nats %q: want host:port, e.g. 127.0.0.1:4222", cmd.String("nats"))
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("--nats %q: port must be a number", cmd.String("nats"))
	}
	if cmd.Int("stock") < 0 {
		return fmt.Errorf("--stock %d: must not be negative", cmd.Int("stock"))
	}
	dir, err := filepath.Abs(cmd.String("data"))
	if err != nil {
		return err
	}
	srv, err := embedded.Start(embedded.Config{Host: host, Port: port, StoreDir: dir, ServerName: "natsfn-local"})
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if err := checkDataLayout(ctx, srv.ClientURL(), dir); err != nil {
		return err
	}

	all, err := functions.All(appConfig(cmd))
	if err != nil {
		return err
	}
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	rcfg := runtimeConfig(cmd, &log, srv.ClientURL())
	rt, err := natsfn.New(rcfg, svcs...)
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rt.Run(gctx) })
	g.Go(func() error {
		select {
		case <-rt.Started():
		case <-gctx.Done():
			return nil
		}
		js, err := jetstream.New(rt.Conn())
		if err != nil {
			return err
		}
		seedCtx, cancel := context.WithTimeout(gctx, 30*time.Second)
		added, err := inventory.Seed(seedCtx, js, inventory.DemoCatalog(int64(cmd.Int("stock"))))
		cancel()
		if err != nil {
			return fmt.Errorf("seed the demo catalog: %w", err)
		}
		gcfg := gatewayConfig(cmd)
		gcfg.Logger, gcfg.Metrics = &log, rt.Metrics()
		gw, err := gateway.New(gcfg, rt.Conn(), functions.Routes())
		if err != nil {
			return err
		}
		if err := gw.Listen(); err != nil {
			return err
		}
		seeded := "catalog kept from the last run"
		if added > 0 {
			seeded = fmt.Sprintf("seeded %d demo products", added)
		}
		fmt.Fprintf(cmd.Root().Writer, "\nnatsfn local is up (%s)\n"+
			"  HTTP API: http://%s   (OpenAPI: /openapi.json)\n"+
			"  NATS:     %s   (JetStream data in %s)\n"+
			"  admin:    http://%s/metrics\n\n"+
			"  try: curl -s -XPOST http://%s/orders -H 'Content-Type: application/json' -d '{\"customer_id\":\"c-1\",\"items\":[{\"product_id\":\"sku-1\",\"quantity\":2}]}'\n"+
			"       nats micro ls --server %s\n\n",
			seeded, gw.Addr(), srv.ClientURL(), dir, rt.AdminAddr(), gw.Addr(), srv.ClientURL())
		return gw.Serve(gctx, cmd.Duration("shutdown-timeout"))
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// checkDataLayout refuses a data directory written by a natsfn that kept
// orders and payments in key-value buckets: its orders would be invisible
// and its stock holds inside the product records never given back.
func checkDataLayout(ctx context.Context, url, dir string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for _, old := range []string{"KV_orders", "KV_payments"} {
		_, err := js.Stream(ctx, old)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s holds data of an earlier natsfn (stream %s: orders and payments now live beside their events); "+
			"stop natsfn and remove it (rm -rf %s), or start with --data pointing to another directory", dir, old, dir)
	}
	return nil
}
