//go:build !nodemo

package main

import (
	"crypto/x509"
	"log/slog"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// startDemo starts the demo tenant for `portal dev` and points cfg at it.
// It returns how to stop it, the demo provider's issuer and the roots
// that trust the emulator.
func startDemo(cfg *config.Config, dev *devOptions, logger *slog.Logger) (stop func(), issuer string, roots *x509.CertPool, err error) {
	demo, err := app.StartDemo(cfg, demoDir(cfg.DatabaseURL), logger)
	if err != nil {
		return nil, "", nil, err
	}
	if dev.noWordSearch {
		demo.Graph.Update(func(t *graphemu.Tenant) { t.SearchUnsupported = true })
	}
	if dev.graphLatency > 0 {
		demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: dev.graphLatency})
	}
	return demo.Close, demo.Provider.Issuer(), demo.Graph.CertPool(), nil
}
