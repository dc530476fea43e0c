package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions/inventory"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// seedCommand fills an empty catalog, as `natsfn local` does by itself; a
// compose one-shot service or a Kubernetes Job runs it once per cluster.
func seedCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "seed",
		Usage: "add the demo products that are missing from the catalog (existing stock is kept)",
		Flags: append([]ucli.Flag{natsURLFlag(),
			&ucli.IntFlag{Name: "stock", Usage: "units of each demo product", Value: 100, Sources: ucli.EnvVars("NATSFN_STOCK")},
			&ucli.IntFlag{Name: "replicas", Usage: "replicas of the inventory bucket, if it has to be created", Value: 1, Sources: ucli.EnvVars("NATSFN_REPLICAS")},
		}, natsAuthFlags()...),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			opts, err := natsOptions(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			log := nopLog()
			nc, err := natsfn.Connect(ctx, natsfn.Config{URL: cmd.String("nats-url"), Name: "natsfn-seed", NATSOptions: opts, Logger: &log})
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			added, err := inventory.Seed(ctx, js, inventory.DemoCatalog(int64(cmd.Int("stock"))), cmd.Int("replicas"))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.Root().Writer, "added %d products (%d already there)\n", added, len(inventory.DemoCatalog(0))-added)
			return nil
		},
	}
}
