package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/store"
)

const usage = `TAP Portal: issue, view and revoke Microsoft Entra Temporary Access Passes
through one guarded, audited path.

Usage:
  portal serve   run the portal with the settings below
  portal dev [-graph-latency 50ms] [-no-word-search]
                 run the portal on a demo tenant on this machine: a Graph
                 emulator with about 50 users, an embedded OpenID provider
                 with a persona picker, and SQLite under ./data
  portal audit verify [-checkpoints FILE]
                 walk the history's keyed hash chain, check it against the
                 signed checkpoints in the database and, with -checkpoints,
                 in a portal log (a file, or - for standard input); name
                 what was deleted, rewritten or forged (exit 1 if anything)
  portal healthcheck
                 exit 0 when the portal on PORTAL_ADDR answers /healthz
                 (for container health checks)
  portal help    show this help

Settings (environment variables):
`

// run is the whole command; only it reads the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "help"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, nil)
	case "dev":
		fs := flag.NewFlagSet("dev", flag.ContinueOnError)
		fs.SetOutput(stderr)
		latency := fs.Duration("graph-latency", 0, "add this latency to every emulated Graph call (for load tests)")
		noWords := fs.Bool("no-word-search", false, "make the demo tenant refuse word search ($search), as some tenants do, to try the prefix fallback")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serve(ctx, getenv, stdout, &devOptions{graphLatency: *latency, noWordSearch: *noWords})
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			return fmt.Errorf("usage: portal audit verify [-checkpoints FILE]")
		}
		fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
		fs.SetOutput(stderr)
		log := fs.String("checkpoints", "", "a portal log (JSON lines) to read checkpoints from, or - for standard input")
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return fmt.Errorf("usage: portal audit verify [-checkpoints FILE]")
		}
		return verify(ctx, getenv, *log, stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
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

// devOptions mark the demo tenant; its files live beside the SQLite
// database (./data by default).
type devOptions struct {
	graphLatency time.Duration
	noWordSearch bool
}

func demoDir(databaseURL string) string {
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		return filepath.Dir(path)
	}
	return "data"
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
	// The listener comes first: the demo registers its redirect address
	// with the provider, and with port 0 only the listener knows it.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("PORTAL_ADDR %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	var opts app.Options
	demoIssuer := ""
	if dev != nil {
		if strings.TrimSpace(getenv("PORTAL_PUBLIC_URL")) == "" {
			cfg.PublicURL = config.DevPublicURL(ln.Addr().String())
		}
		stop, issuer, demoOpts, err := startDemo(&cfg, dev, logger)
		if err != nil {
			return err
		}
		defer stop()
		demoIssuer, opts = issuer, demoOpts
	}
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Start(ctx)
	go a.Maintain(ctx)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("PORTAL_METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		msrv := &http.Server{Handler: a.Metrics.Handler(cfg.MetricsToken), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(), "startup", time.Since(start).String())
	if dev != nil {
		fmt.Fprintf(stdout, "\nTAP Portal demo is ready: open %s and pick a persona (operator, supervisor, no role).\n", cfg.PublicURL)
		if h := cfg.PublicURL.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			// The persona picker signs anyone in as anyone, so it never
			// leaves this machine.
			fmt.Fprintf(stdout, "Sign in from a browser on this machine: the demo's sign-in page, %s, answers on this machine only,\n"+
				"because it lets anyone sign in as anyone. To show the demo on another machine, run it there.\n", demoIssuer)
		}
		fmt.Fprintln(stdout)
	}
	if err := a.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// healthcheck asks the local portal whether it is alive.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := getenv("PORTAL_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PORTAL_ADDR %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}

// verify walks the history's hash chain.
func verify(ctx context.Context, getenv func(string) string, logFile string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := config.Load(getenv, true)
	if err != nil {
		return fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	if len(cfg.AuditKeys) == 0 {
		// The demo's history, verified with the demo's key.
		key, err := app.DemoAuditKey(demoDir(cfg.DatabaseURL), false)
		if err != nil {
			return err
		}
		if key == "" {
			return fmt.Errorf("PORTAL_AUDIT_KEY is required: the history cannot be verified without the keys it was written with")
		}
		cfg.AuditKeys = []string{key}
	}
	var logged []store.LoggedCheckpoint
	var unreadable []string
	if logFile != "" {
		r := stdin
		if logFile != "-" {
			f, err := os.Open(logFile)
			if err != nil {
				return fmt.Errorf("-checkpoints: %w", err)
			}
			defer f.Close()
			r = f
		}
		if logged, unreadable, err = store.ReadCheckpoints(r); err != nil {
			return fmt.Errorf("-checkpoints %s: %w", logFile, err)
		}
		if len(logged) == 0 && len(unreadable) == 0 {
			return fmt.Errorf("-checkpoints %s holds no audit checkpoint: give the portal's JSON log", logFile)
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{AuditKeys: cfg.AuditKeys})
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.VerifyWith(ctx, logged)
	if err != nil {
		return err
	}
	v.Findings = append(unreadable, v.Findings...)
	source := "the database"
	if logFile != "" {
		source = fmt.Sprintf("the database and %d from the log", len(logged))
	}
	if v.Problem != "" {
		fmt.Fprintf(stdout, "history chain BROKEN at record %d (after %d records checked): %s\n", v.BrokenAt, v.Checked, v.Problem)
	} else {
		fmt.Fprintf(stdout, "history chain intact: %d records checked, up to record %d\n", v.Checked, v.HeadID)
	}
	fmt.Fprintf(stdout, "checkpoints: %d verified (from %s)\n", v.Checkpoints, source)
	for _, f := range v.Findings {
		fmt.Fprintf(stdout, "FOUND: %s\n", f)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if !v.Intact() {
		return fmt.Errorf("the history has been altered")
	}
	return nil
}
