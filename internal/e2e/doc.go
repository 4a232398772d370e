// Package e2e holds the portal's browser tests: journeys through the real
// portal on the demo tenant, driven in a real Chromium with chromedp the way
// a person uses it (links, buttons, the keyboard), with an accessibility
// check (axe-core) and a full-page screenshot of every key page, and no
// tolerance for a Content-Security-Policy violation or a JavaScript error.
// One pass runs at a phone's width, where no page may scroll sideways.
//
// The package has no code outside its tests. Run it with
//
//	go test ./internal/e2e/ -v
//
// Chromium comes from PORTAL_TEST_CHROMIUM or from PATH (chromium,
// chromium-browser); without it every journey skips and says so.
// Screenshots go to PORTAL_TEST_ARTIFACTS/screenshots when that variable is
// set, and to a temporary directory otherwise.
package e2e
