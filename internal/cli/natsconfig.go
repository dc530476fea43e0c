package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/natsfn/natsfn/functions"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/natsauth"
)

func natsConfigCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "nats-config",
		Usage: "print a nats-server authorization block with least-privilege users",
		Description: "One user per function service, allowed exactly its own subjects, JetStream API calls,\n" +
			"buckets, dead letters, $SRV.> and its inbox (_INBOX.<service>.>); a gateway user that\n" +
			"may only send the API's requests; an admin user for the CLI. Passwords are read by\n" +
			"nats-server from environment variables NATSFN_<USER>_PASSWORD. Include the output in\n" +
			"the server configuration, then run each service with --nats-user <service>.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "out", Usage: "write to this file instead of standard output"},
		},
		Action: func(_ context.Context, cmd *ucli.Command) error {
			block, err := authorization()
			if err != nil {
				return err
			}
			if out := cmd.String("out"); out != "" {
				return os.WriteFile(out, []byte(block), 0o644)
			}
			_, err = fmt.Fprint(cmd.Root().Writer, block)
			return err
		},
	}
}

// authorization renders the users for every service, the gateway and an admin.
func authorization() (string, error) {
	all, err := functions.All(defaultAppConfig())
	if err != nil {
		return "", err
	}
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	var users []natsauth.User
	for _, s := range svcs {
		p, err := natsauth.For(s, svcs)
		if err != nil {
			return "", err
		}
		users = append(users, natsauth.User{Name: s.Name, PasswordEnv: passwordEnv(s.Name), Permissions: &p})
	}
	gw := natsauth.Permissions{Subscribe: []string{"_INBOX.gateway.>"}}
	for _, r := range functions.Routes() {
		gw.Publish = append(gw.Publish, r.Subject)
	}
	users = append(users,
		natsauth.User{Name: "gateway", PasswordEnv: passwordEnv("gateway"), Permissions: &gw},
		natsauth.User{Name: "admin", PasswordEnv: passwordEnv("admin")})
	return natsauth.Block(users), nil
}

func passwordEnv(user string) string { return "NATSFN_" + strings.ToUpper(user) + "_PASSWORD" }
