package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/service"
)

// defaultCodecListen is the codec server's address when neither --listen nor codec.listen gives one.
const defaultCodecListen = "127.0.0.1:8093"

func newCodecServerCmd(a *app) *cobra.Command {
	var listen string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve /encode and /decode so the Temporal Web UI and CLI show decrypted payloads",
		Long: `Serves the codec server alone (the worker serves the same one when codec.listen is set): it decrypts
for the Temporal Web UI and CLI what the worker encrypted, with the keys of temporal.encryption, for callers that
carry the token (` + config.EnvCodecToken + ` or codec.token_file) as "Authorization: Bearer <token>" or as
the last path segment of the endpoint (https://host/<token>). Browsers may call it from codec.origins and --origin.
It runs until interrupted.`,
		Example: `  NEXSALTO_CODEC_TOKEN=… starter codec-server --origin https://cloud.temporal.io
  temporal workflow show -w visitor-1 --codec-endpoint http://127.0.0.1:8093 --codec-auth "Bearer $NEXSALTO_CODEC_TOKEN"`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			c := *cfg
			c.Codec.Origins = append(append([]string(nil), cfg.Codec.Origins...), origins...)
			if listen == "" {
				listen = c.Codec.Listen
			}
			if listen == "" {
				listen = defaultCodecListen
			}
			srv, err := service.StartCodecServer(&c, listen, a.logger())
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			fmt.Fprintf(a.Stdout, "codec server on %s (Web UI endpoint: %s/<token>; CLI: --codec-endpoint %s "+
				"--codec-auth \"Bearer <token>\"); origins %v\n", srv.URL(), srv.URL(), srv.URL(), c.Codec.Origins)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default codec.listen, else "+defaultCodecListen+")")
	cmd.Flags().StringArrayVar(&origins, "origin", nil, "a Web UI origin allowed to call from a browser, e.g. https://cloud.temporal.io (repeatable)")
	return cmd
}
