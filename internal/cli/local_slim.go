//go:build nolocal

package cli

import (
	"context"
	"errors"

	ucli "github.com/urfave/cli/v3"
)

// The container image is built with -tags nolocal: it never embeds a NATS
// server, and leaving nats-server out keeps the image under 25 MB.
func localCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "local",
		Usage: "not in this build (the container image); use `go run . local` from source",
		Action: func(context.Context, *ucli.Command) error {
			return errors.New("this natsfn was built without the embedded NATS server (-tags nolocal); run `go run . local` from a checkout")
		},
	}
}
