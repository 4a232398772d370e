package issuance_test

import (
	"context"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// BenchmarkUserPageView gathers a user page (View: every guardrail fact,
// the sign-in methods and the history) through the Graph SDK against the
// emulator with 50 ms injected on every Graph call. It reports the page's
// wall time as a multiple of one call ("x-call") and the Graph requests
// per page. An ordinary user takes one round of concurrent reads; a user
// in a role-assignable group takes a second, for the group's roles.
func BenchmarkUserPageView(b *testing.B) {
	const latency = 50 * time.Millisecond
	for _, tt := range []struct{ name, user string }{
		{"ordinary user", graphemu.TAPExpiredUserID},
		{"user in a role-assignable group", graphemu.GroupRoleAdminUserID},
	} {
		b.Run(tt.name, func(b *testing.B) {
			e := newEnv(b)
			cfg, demo := e.cfg, e.demo
			svc := issuance.New(e.dir, e.store, issuance.Options{StaffChecks: true, OperatorRoles: []string{cfg.RoleOperator, cfg.RoleSupervisor},
				Guardrails: issuance.Guardrails{ProtectStaff: true, ProtectedGroupIDs: cfg.ProtectedGroupIDs}})
			op := portal.Operator{ID: graphemu.OperatorUserID, Name: "Priya Natarajan", AuthTime: time.Now()}
			ctx := context.Background()
			// Warm the token, the connections and the caches (policy,
			// staff, role names), as a running portal has them.
			if _, err := svc.View(ctx, op, tt.user); err != nil {
				b.Fatal(err)
			}
			demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: latency})
			demo.Graph.ResetRequests()
			start := time.Now()
			for b.Loop() {
				if _, err := svc.View(ctx, op, tt.user); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start)/time.Duration(b.N))/float64(latency), "x-call")
			b.ReportMetric(float64(len(demo.Graph.Requests()))/float64(b.N), "graph-requests/page")
		})
	}
}
