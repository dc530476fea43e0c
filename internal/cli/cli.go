// Package cli holds the natsfn commands; root main.go only wires signals.
package cli

import (
	ucli "github.com/urfave/cli/v3"
)

// Version is stamped at build time with
// -ldflags "-X github.com/natsfn/natsfn/internal/cli.Version=v1.2.3".
var Version = "dev"

// New returns the root command with every subcommand.
func New() *ucli.Command {
	return &ucli.Command{
		Name:    "natsfn",
		Usage:   "serverless-style Go functions on NATS micro services",
		Version: Version,
		Description: "natsfn runs typed Go functions as NATS micro services, triggered by request or by\n" +
			"JetStream event. Every flag can also be set by the environment variable shown beside it.",
		Commands: []*ucli.Command{
			localCommand(),
			runCommand(),
			gatewayCommand(),
			dlqCommand(),
			natsConfigCommand(),
			healthCommand(),
			seedCommand(),
			loadCommand(),
			versionCommand(),
		},
		Suggest: true,
	}
}
