package graph_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// userPageReads reads what a user page shows: as one Subject (one
// $batch), or as the six reads it replaced, concurrently.
func userPageReads(ctx context.Context, c *graph.Client, id string, batched bool) error {
	if batched {
		_, err := c.Subject(ctx, id, true)
		return err
	}
	calls := []func(context.Context) error{
		func(ctx context.Context) error { _, err := c.User(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.Methods(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.CurrentTAP(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.Groups(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.RoleGrants(ctx, id); return err },
		func(ctx context.Context) error { _, err := c.GroupEligibilities(ctx, id); return err },
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, call := range calls {
		g.Go(func() error { return call(ctx) })
	}
	return g.Wait()
}

// BenchmarkUserPage measures a user page's Graph reads against the
// emulator, in one batch and as separate concurrent requests. With
// injected latency it also reports the page time as a multiple of one
// call's latency ("x-latency").
func BenchmarkUserPage(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		for _, mode := range []struct {
			name    string
			batched bool
		}{{"batch", true}, {"separate", false}} {
			b.Run(latency.String()+"/"+mode.name, func(b *testing.B) {
				e := newEnv(b, nil)
				u := e.ordinary(b)
				ctx := context.Background()
				// Warm the token cache and connections before measuring.
				if err := userPageReads(ctx, e.client, u.ID, mode.batched); err != nil {
					b.Fatal(err)
				}
				if latency > 0 {
					e.emu.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: latency})
				}
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					if err := userPageReads(ctx, e.client, u.ID, mode.batched); err != nil {
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
