package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
)

const usage = `TAP Portal: issue, view and revoke Microsoft Entra Temporary Access Passes
through one guarded, audited path.

Usage:
  portal serve   run the portal with the settings below
  portal dev     run the portal on a demo tenant on this machine: a Graph
                 emulator with about 50 users, an embedded OpenID provider
                 with a persona picker, and SQLite under ./data
  portal help    show this help

Settings (environment variables):
`

// run is the whole command; only it reads the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "help"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, nil)
	case "dev":
		return serve(ctx, getenv, stdout, &devOptions{dataDir: "data"})
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	}
	printUsage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range config.Vars {
		def := v.Default
		if v.Required {
			def = "required"
		}
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
	}
	tw.Flush()
}

type devOptions struct {
	dataDir string
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, dev *devOptions) error {
	start := time.Now()
	cfg, err := config.Load(getenv, dev != nil)
	if err != nil {
		return fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	logger := newLogger(stdout, cfg.LogLevel)
	var opts app.Options
	if dev != nil {
		demo, err := app.StartDemo(&cfg, dev.dataDir, logger)
		if err != nil {
			return err
		}
		defer demo.Close()
		opts.RootCAs = demo.Graph.CertPool()
	}
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("PORTAL_ADDR %s: %w", cfg.Addr, err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(), "startup", time.Since(start).String())
	if dev != nil {
		fmt.Fprintf(stdout, "\nTAP Portal demo is ready: open %s and pick a persona (operator, supervisor, no role).\n\n", cfg.PublicURL)
	}
	if err := a.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
