package cli

import (
	"fmt"

	"github.com/nats-io/nats.go"
	ucli "github.com/urfave/cli/v3"
)

// natsAuthFlags are the ways to prove who we are to NATS and to trust it.
func natsAuthFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "nats-user", Usage: "NATS user name (natsfn nats-config generates the users)", Sources: ucli.EnvVars("NATS_USER")},
		&ucli.StringFlag{Name: "nats-password", Usage: "NATS password", Sources: ucli.EnvVars("NATS_PASSWORD")},
		&ucli.StringFlag{Name: "nats-token", Usage: "NATS token", Sources: ucli.EnvVars("NATS_TOKEN")},
		&ucli.StringFlag{Name: "nats-creds", Usage: "NATS credentials file (JWT + nkey seed)", Sources: ucli.EnvVars("NATS_CREDS")},
		&ucli.StringFlag{Name: "nats-nkey", Usage: "NATS nkey seed file", Sources: ucli.EnvVars("NATS_NKEY")},
		&ucli.StringFlag{Name: "tls-ca", Usage: "CA certificate to trust the NATS server with", Sources: ucli.EnvVars("NATS_CA")},
		&ucli.StringFlag{Name: "tls-cert", Usage: "client certificate for TLS to NATS", Sources: ucli.EnvVars("NATS_CERT")},
		&ucli.StringFlag{Name: "tls-key", Usage: "key of the client certificate", Sources: ucli.EnvVars("NATS_KEY")},
	}
}

// natsOptions turns the auth flags into connection options.
func natsOptions(cmd *ucli.Command) ([]nats.Option, error) {
	var opts []nats.Option
	if u := cmd.String("nats-user"); u != "" {
		opts = append(opts, nats.UserInfo(u, cmd.String("nats-password")))
	} else if cmd.String("nats-password") != "" {
		return nil, fmt.Errorf("--nats-password needs --nats-user")
	}
	if t := cmd.String("nats-token"); t != "" {
		opts = append(opts, nats.Token(t))
	}
	if c := cmd.String("nats-creds"); c != "" {
		opts = append(opts, nats.UserCredentials(c))
	}
	if k := cmd.String("nats-nkey"); k != "" {
		o, err := nats.NkeyOptionFromSeed(k)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", k, err)
		}
		opts = append(opts, o)
	}
	if ca := cmd.String("tls-ca"); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	cert, key := cmd.String("tls-cert"), cmd.String("tls-key")
	switch {
	case cert != "" && key != "":
		opts = append(opts, nats.ClientCert(cert, key))
	case cert != "" || key != "":
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	return opts, nil
}
