// Command portal runs TAP Portal: `portal serve` in production, `portal dev`
// on the built-in demo tenant.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	// Cohort files name time zones; the portal knows them all on any host.
	_ "time/tzdata"
)

func main() {
	// The portal records no traces. The Graph SDK starts a span in each
	// of its middlewares on every request, and OpenTelemetry's default
	// global provider makes an object for each; the no-op one does not.
	otel.SetTracerProvider(noop.NewTracerProvider())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}
