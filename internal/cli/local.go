package cli

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

func localCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "local",
		Usage: "run everything in one process: an embedded NATS with JetStream and every function",
		Description: "For trying natsfn on a laptop: no NATS install needed. JetStream data lives under\n" +
			"--data, so a restart keeps its state. Ctrl-C stops it cleanly.",
		Flags: append(append([]ucli.Flag{
			&ucli.StringFlag{Name: "nats", Usage: "host:port the embedded NATS listens on", Value: "127.0.0.1:4222", Sources: ucli.EnvVars("NATSFN_LOCAL_NATS")},
			&ucli.StringFlag{Name: "data", Usage: "directory for JetStream storage", Value: "natsfn-data", Sources: ucli.EnvVars("NATSFN_DATA")},
		}, logFlags()...), runtimeFlags("127.0.0.1:8081")...),
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
	dir, err := filepath.Abs(cmd.String("data"))
	if err != nil {
		return err
	}
	srv, err := embedded.Start(embedded.Config{Host: host, Port: port, StoreDir: dir, ServerName: "natsfn-local"})
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()

	var svcs []runtime.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, functions.All()[n])
	}
	rt, err := runtime.New(runtimeConfig(cmd, &log, srv.ClientURL()), svcs...)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-rt.Started():
			fmt.Fprintf(cmd.Root().Writer, "\nnatsfn local is up\n  NATS:   %s (JetStream data in %s)\n  admin:  http://%s/metrics\n  try:    nats micro ls --server %s\n\n",
				srv.ClientURL(), dir, rt.AdminAddr(), srv.ClientURL())
		case <-ctx.Done():
		}
	}()
	return rt.Run(ctx)
}
