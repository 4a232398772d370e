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
	"strconv"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"
)

// The floor: the least a user page on this stack can cost, as the
// project's bench anchor defines it. An echo handler makes calls
// concurrent HTTPS calls (HTTP/2) to a JSON server, each answered with a
// page of three users, decodes each with encoding/json into maps, and
// renders an html/template page listing one user's properties. The JSON
// server runs in the bench's process, as the Graph replay does for the
// portal, so that each process's CPU time is its page alone.

// floorUser is a Graph user as the anchor's JSON server sends it.
var floorUser = map[string]any{"id": "a1000000-0000-4000-8000-000000000003", "displayName": "Daniel Kowalski",
	"userPrincipalName": "daniel.kowalski@northwind.example", "mail": "daniel.kowalski@northwind.example",
	"accountEnabled": true, "userType": "Member", "jobTitle": "Marketing Specialist", "department": "Marketing",
	"officeLocation": "Seattle HQ", "employeeId": "NW10111", "onPremisesSyncEnabled": nil}

// floorReply is what the floor's JSON server answers: a listing of three
// users.
var floorReply = func() []byte {
	b, err := json.Marshal(map[string]any{"value": []any{floorUser, floorUser, floorUser}, "@odata.context": "x"})
	if err != nil {
		panic(err)
	}
	return b
}()

var floorPage = template.Must(template.New("user").Parse(`<!doctype html><html><head><title>{{.u.displayName}}</title>
<link rel="stylesheet" href="/static/app.css"></head><body><h1>{{.u.displayName}}</h1><p>{{.u.userPrincipalName}}</p>
<dl>{{range $k, $v := .u}}<dt>{{$k}}</dt><dd>{{$v}}</dd>{{end}}</dl>{{range .r}}<p>{{.}}</p>{{end}}</body></html>`))

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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/user", func(c echo.Context) error {
		counts := make([]string, calls)
		g, gctx := errgroup.WithContext(c.Request().Context())
		for i := range counts {
			g.Go(func() error {
				req, _ := http.NewRequestWithContext(gctx, http.MethodGet, fmt.Sprintf("%s/v1.0/users/x?i=%d", backend, i), nil)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var v struct{ Value []map[string]any }
				if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
					return err
				}
				counts[i] = strconv.Itoa(len(v.Value))
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
		return floorPage.Execute(c.Response(), map[string]any{"u": floorUser, "r": counts})
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
