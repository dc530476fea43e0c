package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats.go"
	"github.com/schollz/progressbar/v3"
	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/internal/load"
)

func loadCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "load",
		Usage: "drive the order flow and measure accept and end-to-end latency, throughput and outcomes",
		Description: "Places orders through the gateway (--url) or straight over NATS (--nats-url), closed loop\n" +
			"(each client waits for its answer) or open loop (--rate orders/s), then waits for every\n" +
			"accepted order to reach confirmed or cancelled, watching each order's status, for as long as\n" +
			"orders keep settling (a closed loop accepts faster than the saga settles: the backlog drains).\n" +
			"Exits non-zero if accepted orders stop settling for --settle, or if --check-stock finds stock not\n" +
			"conserved (run it on an otherwise idle system: available + reserved before = available\n" +
			"after + confirmed quantities, nothing left reserved).\n" +
			"Every order carries an Idempotency-Key; an ambiguous answer (transport error, 5xx) is retried\n" +
			"with the same key for --retry-for, so a lost reply never hides an order the saga settles.",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "url", Usage: "gateway URL", Value: "http://127.0.0.1:8080", Sources: ucli.EnvVars("NATSFN_LOAD_URL")},
			&ucli.StringFlag{Name: "nats-url", Usage: "drive the functions over NATS at this URL instead of the gateway", Sources: ucli.EnvVars("NATSFN_LOAD_NATS_URL")},
			&ucli.IntFlag{Name: "concurrency", Usage: "clients placing orders at once", Value: 16, Sources: ucli.EnvVars("NATSFN_LOAD_CONCURRENCY")},
			&ucli.IntFlag{Name: "orders", Usage: "orders to place (or use --duration)", Sources: ucli.EnvVars("NATSFN_LOAD_ORDERS")},
			&ucli.DurationFlag{Name: "duration", Usage: "how long to place orders (or use --orders)", Sources: ucli.EnvVars("NATSFN_LOAD_DURATION")},
			&ucli.Float64Flag{Name: "rate", Usage: "orders per second, open loop; 0 is closed loop", Sources: ucli.EnvVars("NATSFN_LOAD_RATE")},
			&ucli.Float64Flag{Name: "decline-ratio", Usage: "share of orders paid with tok_decline", Value: 0.1, Sources: ucli.EnvVars("NATSFN_LOAD_DECLINE_RATIO")},
			&ucli.Float64Flag{Name: "flaky-ratio", Usage: "share of orders paid with tok_flaky", Value: 0.1, Sources: ucli.EnvVars("NATSFN_LOAD_FLAKY_RATIO")},
			&ucli.IntFlag{Name: "max-quantity", Usage: "largest quantity of one item", Value: 3, Sources: ucli.EnvVars("NATSFN_LOAD_MAX_QUANTITY")},
			&ucli.DurationFlag{Name: "settle", Usage: "give up when no accepted order has reached a final status for this long", Value: 30 * time.Second, Sources: ucli.EnvVars("NATSFN_LOAD_SETTLE")},
			&ucli.DurationFlag{Name: "retry-for", Usage: "how long an order with an ambiguous answer (transport error, 5xx) is sent again under its Idempotency-Key; 0s never retries", Value: 30 * time.Second, Sources: ucli.EnvVars("NATSFN_LOAD_RETRY_FOR")},
			&ucli.BoolFlag{Name: "check-stock", Usage: "verify stock conservation afterwards", Sources: ucli.EnvVars("NATSFN_LOAD_CHECK_STOCK")},
			&ucli.BoolFlag{Name: "json", Usage: "print the summary as JSON", Sources: ucli.EnvVars("NATSFN_LOAD_JSON")},
		}, natsAuthFlags()...),
		Action: runLoad,
	}
}

func runLoad(ctx context.Context, cmd *ucli.Command) error {
	if cmd.Int("orders") <= 0 && cmd.Duration("duration") <= 0 {
		return errors.New("say how much: --orders N or --duration D (e.g. --duration 30s)")
	}
	var client load.Client
	target := cmd.String("url")
	if u := cmd.String("nats-url"); u != "" {
		opts, err := natsOptions(cmd)
		if err != nil {
			return err
		}
		nc, err := nats.Connect(u, append(opts, nats.Name("natsfn-load"))...)
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", u, err)
		}
		defer nc.Close()
		client, target = &load.NATS{Conn: nc}, u+" (NATS)"
	} else {
		client = load.NewHTTP(cmd.String("url"), cmd.Int("concurrency"))
	}
	var before map[string]int64
	var products []string
	catalog, err := client.Products(ctx)
	if err != nil {
		return fmt.Errorf("read the catalog from %s: %w (is the system up? `natsfn local` starts one)", target, err)
	}
	for _, p := range catalog {
		products = append(products, p.ProductID)
	}
	if len(products) == 0 {
		return errors.New("the catalog is empty: run `natsfn seed` first")
	}
	before = load.Snapshot(catalog)

	cfg := load.Config{
		Client: client, Concurrency: cmd.Int("concurrency"), Orders: cmd.Int("orders"), Duration: cmd.Duration("duration"),
		Rate: cmd.Float64("rate"), Products: products, MaxQuantity: cmd.Int("max-quantity"),
		DeclineRatio: cmd.Float64("decline-ratio"), FlakyRatio: cmd.Float64("flaky-ratio"),
		Settle: cmd.Duration("settle"), RetryFor: retryFor(cmd.Duration("retry-for")), Seed: uint64(time.Now().UnixNano()),
	}
	errw := cmd.Root().ErrWriter
	if errw == nil {
		errw = os.Stderr
	}
	if f, ok := errw.(*os.File); ok && isatty.IsTerminal(f.Fd()) && !cmd.Bool("json") {
		total := int64(cfg.Orders)
		if total == 0 {
			total = -1 // spinner for --duration
		}
		bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(errw), progressbar.OptionSetDescription("placing orders"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("orders"), progressbar.OptionClearOnFinish())
		cfg.Progress = func(p load.Progress) { _ = bar.Set(p.Attempted) }
		defer func() { _ = bar.Finish() }()
	} else if !cmd.Bool("json") {
		cfg.Progress = func(p load.Progress) {
			fmt.Fprintf(errw, "%5.0fs  attempted %d  accepted %d  settled %d\n", p.Elapsed.Seconds(), p.Attempted, p.Accepted, p.Settled)
		}
	}
	if !cmd.Bool("json") {
		fmt.Fprintf(errw, "driving %s with %d clients\n", target, cfg.Concurrency)
	}
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	sum := rep.Summary()
	var stockErr error
	if cmd.Bool("check-stock") {
		after, err := client.Products(ctx)
		switch {
		case rep.Unknown > 0:
			stockErr = fmt.Errorf("cannot be checked: %d orders never got a definite answer (raise --retry-for)", rep.Unknown)
		case err == nil:
			stockErr = load.CheckStock(before, after, rep.Confirmed())
		default:
			stockErr = err
		}
		sum.Stock = "ok"
		if stockErr != nil {
			sum.Stock = "FAILED: " + stockErr.Error()
		}
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(cmd.Root().Writer)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	} else {
		fmt.Fprintln(cmd.Root().Writer)
		sum.Table(cmd.Root().Writer)
	}
	switch {
	case sum.Unsettled > 0:
		return fmt.Errorf("%d accepted orders did not reach a final status (none settled in the last %s)", sum.Unsettled, cfg.Settle)
	case stockErr != nil:
		return fmt.Errorf("stock is not conserved: %w", stockErr)
	}
	return nil
}

// retryFor maps the flag (0: never retry) onto load.Config (0: default).
func retryFor(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
