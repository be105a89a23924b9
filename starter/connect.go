package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
)

func newConnectCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Connect an external account (salto)",
		Args:  cobra.ArbitraryArgs,
		RunE:  noSubcommand,
	}
	cmd.AddCommand(newConnectSaltoCmd(a))
	return cmd
}

func newConnectSaltoCmd(a *app) *cobra.Command {
	var listen string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "salto",
		Short: "Authorize nexsalto on Salto KS (authorization code with PKCE) and store the token",
		Long: `Runs the one-time authorization of nexsalto on the Salto KS identity server: authorization code with
PKCE, using salto.client_id, salto.authorize_url, salto.token_url and salto.redirect_url of the configuration.

It prints a URL to open in a browser, waits on --listen for the redirect to salto.redirect_url, exchanges the
code and stores the token (with its refresh token) in salto.token_file, where the worker finds it. Nothing
secret is printed. Not needed when the worker uses the password grant (salto.username).`,
		Example: `  starter connect salto
  starter connect salto --listen 0.0.0.0:8765   # the browser runs on another host`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			sc := service.SaltoConfig(cfg.Salto)
			if sc.AuthorizeURL == "" {
				return errors.New("config: salto.authorize_url: required for connect salto (the identity " +
					"server's /connect/authorize)")
			}
			if sc.RedirectURL == "" {
				return errors.New("config: salto.redirect_url: required for connect salto (for example " +
					"http://127.0.0.1:8765/callback, registered for the client in Salto KS)")
			}
			if sc.TokenFile == "" {
				return errors.New("config: salto.token_file: required for connect salto (where the token is stored)")
			}
			if listen == "" {
				if listen, err = listenAddrOf(sc.RedirectURL); err != nil {
					return err
				}
			}
			if sc.Username != "" {
				// The token is still stored, but the worker would not use it.
				fmt.Fprintln(a.Stderr, "note: salto.username is set, so the worker uses the password grant, not "+
					"the token stored here")
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			err = salto.Connect(ctx, sc, listen, func(u string) {
				fmt.Fprintf(a.Stdout, "Open this URL in a browser, log in to Salto KS and allow access:\n\n  %s\n\n", u)
				fmt.Fprintf(a.Stdout, "Waiting for the redirect to %s (listening on %s) ...\n", sc.RedirectURL, listen)
			})
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("no redirect arrived within %s; run connect salto again", timeout)
			}
			if err != nil {
				return fmt.Errorf("connect salto: %w", err)
			}
			fmt.Fprintf(a.Stdout, "Connected to Salto KS. The token is stored in %s.\n", sc.TokenFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "",
		"address to receive the redirect on (default: host:port of salto.redirect_url)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up when the browser has not come back by then")
	return cmd
}

// listenAddrOf is the host:port a redirect URL points at, with the scheme's default port.
func listenAddrOf(redirect string) (string, error) {
	u, err := url.Parse(redirect)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("config: salto.redirect_url %q is not an absolute URL", redirect)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
