package graph_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// userPageCalls makes the four calls a user page needs, serially or
// concurrently.
func userPageCalls(ctx context.Context, c *graph.Client, id string, concurrent bool) error {
	calls := []func(context.Context) error{
		func(ctx context.Context) error { _, err := c.User(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.Methods(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.CurrentTAP(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.RoleGrants(ctx, id); return err },
	}
	if !concurrent {
		for _, call := range calls {
			if err := call(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, call := range calls {
		g.Go(func() error { return call(ctx) })
	}
	return g.Wait()
}

// BenchmarkUserPage measures a user page's Graph calls against the
// emulator. With injected latency it also reports the page time as a
// multiple of one call's latency ("x-latency"): the concurrent page should
// stay under 1.3.
func BenchmarkUserPage(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		for _, mode := range []struct {
			name       string
			concurrent bool
		}{{"serial", false}, {"concurrent", true}} {
			b.Run(latency.String()+"/"+mode.name, func(b *testing.B) {
				e := newEnv(b, nil)
				u := e.ordinary(b)
				ctx := context.Background()
				// Warm the token cache and connections before measuring.
				if err := userPageCalls(ctx, e.client, u.ID, mode.concurrent); err != nil {
					b.Fatal(err)
				}
				if latency > 0 {
					e.emu.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: latency})
				}
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					if err := userPageCalls(ctx, e.client, u.ID, mode.concurrent); err != nil {
						b.Fatal(err)
					}
				}
				if latency > 0 {
					perPage := time.Since(start) / time.Duration(b.N)
					b.ReportMetric(float64(perPage)/float64(latency), "x-latency")
				}
			})
		}
	}
}
