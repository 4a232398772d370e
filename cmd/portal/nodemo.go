//go:build nodemo

package main

import (
	"errors"
	"log/slog"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
)

// startDemo is absent from the production build (-tags nodemo): the demo
// tenant's sign-in page lets anyone sign in as anyone, so the image that
// serves a real tenant does not carry it, and its binary is about half
// the size, which is most of the process's memory.
func startDemo(*config.Config, *devOptions, *slog.Logger) (func(), string, app.Options, error) {
	return nil, "", app.Options{}, errors.New("this build of the portal has no demo tenant (it was built with -tags nodemo): run `make run` from the source instead")
}
