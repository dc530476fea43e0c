// Command natsfn is the one binary of natsfn: it runs functions, the HTTP
// gateway, or everything at once on an embedded NATS; `natsfn --help` lists
// the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsfn/natsfn/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.New().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		os.Exit(1)
	}
}
