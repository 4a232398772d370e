//go:build !nodemo

package main

import (
	"log/slog"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// startDemo starts the demo tenant for `portal dev` and points cfg at it.
// It returns how to stop it, the demo provider's issuer and the portal's
// options for it: the roots that trust the emulator, and the start of its
// audit log.
func startDemo(cfg *config.Config, dev *devOptions, logger *slog.Logger) (stop func(), issuer string, opts app.Options, err error) {
	started := time.Now()
	demo, err := app.StartDemo(cfg, demoDir(cfg.DatabaseURL), logger)
	if err != nil {
		return nil, "", opts, err
	}
	if dev.noWordSearch {
		demo.Graph.Update(func(t *graphemu.Tenant) { t.SearchUnsupported = true })
	}
	if dev.graphLatency > 0 {
		demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: dev.graphLatency})
	}
	opts.RootCAs, opts.AuditLogSince, opts.WatchEvery = demo.Graph.CertPool(), started, time.Minute
	opts.SampleCohort, opts.Demo = app.SampleCohort, demo
	return demo.Close, demo.Provider.Issuer(), opts, nil
}
