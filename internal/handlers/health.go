package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
)

// healthz says the process is alive; it checks nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every readiness check concurrently and names each result.
// Errors are reduced to "failed" in the reply (details go to the log), so
// nothing internal leaks to an unauthenticated caller.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	results := make([]string, len(s.cfg.Ready))
	done := make(chan struct{})
	for i, chk := range s.cfg.Ready {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := chk.Check(ctx); err != nil {
				s.cfg.Logger.WarnContext(ctx, "readiness check failed", "check", chk.Name, "err", err.Error())
				results[i] = "failed"
				return
			}
			results[i] = "ok"
		}()
	}
	for range s.cfg.Ready {
		<-done
	}
	status, checks := http.StatusOK, map[string]string{}
	for i, chk := range s.cfg.Ready {
		checks[chk.Name] = results[i]
		if results[i] != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	overall := "ready"
	if status != http.StatusOK {
		overall = "not ready"
	}
	reply := map[string]any{"status": overall, "checks": checks}
	if s.cfg.Capabilities != nil {
		// A missing permission degrades the checks that need it (they
		// refuse) without making the portal unready: revocations, the
		// history and the other checks still serve.
		perms, degraded := "unchecked", []map[string]string{}
		if caps := s.cfg.Capabilities(); caps != nil {
			perms = "ok"
			for _, cp := range caps {
				if cp.Status != portal.CapabilityOK {
					perms = "degraded"
					degraded = append(degraded, map[string]string{"check": cp.Check, "permission": cp.Permission, "status": cp.Status, "effect": cp.Effect})
				}
			}
		}
		checks["graph_permissions"] = perms
		reply["degraded"] = degraded
	}
	return c.JSON(status, reply)
}
