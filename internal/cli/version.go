package cli

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	ucli "github.com/urfave/cli/v3"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print the natsfn version and the versions of Go and the NATS client it was built with",
		Action: func(_ context.Context, cmd *ucli.Command) error {
			fmt.Fprintf(cmd.Root().Writer, "natsfn %s (%s, %s/%s", Version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/nats-io/nats.go" || d.Path == "github.com/nats-io/nats-server/v2" {
						fmt.Fprintf(cmd.Root().Writer, ", %s %s", d.Path, d.Version)
					}
				}
			}
			fmt.Fprintln(cmd.Root().Writer, ")")
			return nil
		},
	}
}
