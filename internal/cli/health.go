package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	ucli "github.com/urfave/cli/v3"
)

// healthCommand lets a container check itself: the image is distroless, so
// there is no curl or wget for a compose healthcheck to call.
func healthCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "health",
		Usage:     "exit 0 if the URL answers 200 (for container healthchecks)",
		ArgsUsage: "[url]",
		Description: "Defaults to http://127.0.0.1:8081/readyz, the admin server's readiness.\n" +
			"Example: natsfn health http://127.0.0.1:8080/readyz",
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			url := "http://127.0.0.1:8081/readyz"
			if cmd.Args().Len() > 0 {
				url = cmd.Args().First()
			}
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			return nil
		},
	}
}
