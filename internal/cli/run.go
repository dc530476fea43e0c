package cli

import (
	"context"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	natsfn "github.com/natsfn/natsfn/runtime"
)

func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "serve the named function services against a NATS server",
		ArgsUsage: "<service>...",
		Description: "Serves one or more function services (one micro service instance each) until SIGTERM,\n" +
			"then drains: in-flight invocations finish, new work goes to other replicas.\n" +
			"Start more processes to scale a service; they share the work.\n\n" +
			"Services: " + strings.Join(functions.Names(), ", "),
		Flags: append(append(append(append([]ucli.Flag{natsURLFlag()}, natsAuthFlags()...), logFlags()...), runtimeFlags(":8081")...), appFlags()...),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			all, err := functions.All(appConfig(cmd))
			if err != nil {
				return err
			}
			svcs, err := pickServices(all, cmd.Args().Slice())
			if err != nil {
				return err
			}
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			cfg := runtimeConfig(cmd, &log, cmd.String("nats-url"))
			if cfg.NATSOptions, err = natsOptions(cmd); err != nil {
				return err
			}
			if len(svcs) == 1 {
				// The inbox `natsfn nats-config` allows this service.
				cfg.InboxPrefix = "_INBOX." + svcs[0].Name
			}
			rt, err := natsfn.New(cfg, svcs...)
			if err != nil {
				return err
			}
			return rt.Run(ctx)
		},
	}
}

// pickServices resolves service names, explaining what exists when a name
// is wrong.
func pickServices(all map[string]natsfn.Service, names []string) ([]natsfn.Service, error) {
	available := strings.Join(functions.Names(), ", ")
	if available == "" {
		available = "(none registered)"
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("name at least one service to run, e.g. `natsfn run payment`; available: %s", available)
	}
	var svcs []natsfn.Service
	seen := map[string]bool{}
	for _, n := range names {
		s, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("unknown service %q; available: %s", n, available)
		}
		if !seen[n] {
			svcs = append(svcs, s)
			seen[n] = true
		}
	}
	return svcs, nil
}
