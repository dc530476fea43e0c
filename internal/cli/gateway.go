package cli

import (
	"context"
	"errors"

	ucli "github.com/urfave/cli/v3"
)

func gatewayCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "gateway",
		Usage: "serve the HTTP API, mapping each route to a NATS request",
		Flags: append([]ucli.Flag{
			natsURLFlag(),
			&ucli.StringFlag{Name: "http", Usage: "address the HTTP API listens on", Value: "127.0.0.1:8080", Sources: ucli.EnvVars("NATSFN_HTTP")},
		}, logFlags()...),
		Action: func(context.Context, *ucli.Command) error {
			return errors.New("the HTTP gateway is not part of this build yet")
		},
	}
}
