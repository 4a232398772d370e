package e2e

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// tally counts what the package run checked, for the summary line that
// TestMain prints. It is the package's only mutable state: the journeys
// run in parallel and each adds to it.
var tally struct {
	journeys   atomic.Int64 // journeys that ran in a browser
	axeChecks  atomic.Int64 // pages axe-core checked
	violations atomic.Int64 // serious or critical axe-core violations
	skipped    atomic.Int64 // journeys skipped for want of Chromium
	// desktop and phone count the axe checks at each width.
	desktop, phone struct{ axeChecks, violations atomic.Int64 }
	// firstLoad is the bytes the first signed-in page transferred, with
	// everything it loaded, in a browser with an empty cache.
	firstLoad, firstLoadRequests atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	fmt.Printf("e2e: %d journeys, %d axe checks, %d serious or critical violations\n",
		tally.journeys.Load(), tally.axeChecks.Load(), tally.violations.Load())
	fmt.Printf("e2e: axe at 1280 px: %d pages, %d serious or critical; at %d px: %d pages, %d serious or critical\n",
		tally.desktop.axeChecks.Load(), tally.desktop.violations.Load(), phoneWidth, tally.phone.axeChecks.Load(), tally.phone.violations.Load())
	if n := tally.firstLoad.Load(); n > 0 {
		fmt.Printf("e2e: first signed-in page: %d bytes transferred in %d requests\n", n, tally.firstLoadRequests.Load())
	}
	if n := tally.skipped.Load(); n > 0 {
		fmt.Printf("e2e: %d journeys skipped: %s\n", n, noChromium)
	}
	os.Exit(code)
}
