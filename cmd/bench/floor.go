package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"
)

// The floor: the least a user page on this stack can cost. An echo
// handler makes calls concurrent HTTPS calls (HTTP/2) to a JSON server,
// decodes each with encoding/json and renders a small html/template page.
// The JSON server runs in the bench's process, as the Graph emulator does
// for the portal, so that each process's CPU time is its page alone.

// floorReply is what the floor's JSON server answers: about the size of
// a Graph user.
var floorReply = []byte(`{"id":"a1000000-0000-4000-8000-000000000003","displayName":"Noah Berg","userPrincipalName":"noah.berg@example.test",` +
	`"mail":"noah.berg@example.test","jobTitle":"Analyst","department":"Finance","accountEnabled":true,"userType":"Member"}`)

var floorPage = template.Must(template.New("user").Parse(`<!doctype html><html><head><title>{{.Name}}</title></head><body>
<h1>{{.Name}}</h1><dl>{{range .Items}}<dt>{{.DisplayName}}</dt><dd>{{.UserPrincipalName}} · {{.Department}}</dd>{{end}}</dl></body></html>`))

// startFloorBackend starts the floor's JSON server over TLS with HTTP/2.
func startFloorBackend() *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(floorReply)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	return srv
}

// runFloor serves the floor's /user on addr, calling backend calls times
// per page, until ctx ends. caPEM is the backend's certificate.
func runFloor(ctx context.Context, addr, backend string, calls int, caPEM []byte) error {
	pool, err := certPool(caPEM)
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 32}
	client := &http.Client{Transport: tr}
	type user struct{ DisplayName, UserPrincipalName, Department string }
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/user", func(c echo.Context) error {
		items := make([]user, calls)
		g, gctx := errgroup.WithContext(c.Request().Context())
		for i := range items {
			g.Go(func() error {
				req, _ := http.NewRequestWithContext(gctx, http.MethodGet, fmt.Sprintf("%s/v1.0/item/%d", backend, i), nil)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				return json.NewDecoder(resp.Body).Decode(&items[i])
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
		return floorPage.Execute(c.Response(), map[string]any{"Name": items[0].DisplayName, "Items": items})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
