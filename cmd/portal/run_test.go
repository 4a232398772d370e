package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/testutil"
)

func TestHelpListsCommandsAndSettings(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"portal serve", "portal dev", "portal healthcheck"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, v := range config.Vars {
		if !strings.Contains(out.String(), v.Name) {
			t.Errorf("help lacks %s", v.Name)
		}
	}
	if err := run(context.Background(), []string{"launch"}, func(string) string { return "" }, nil, io.Discard, io.Discard); err == nil {
		t.Error("an unknown command succeeded")
	}
}

func TestServeNamesMissingSettings(t *testing.T) {
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		if k == "PORTAL_GRAPH_CLOUD" {
			return "mars"
		}
		return ""
	}, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve without settings started")
	}
	for _, v := range config.Vars {
		if v.Required && !strings.Contains(err.Error(), v.Name) {
			t.Errorf("the error does not name %s", v.Name)
		}
	}
	if !strings.Contains(err.Error(), "PORTAL_GRAPH_CLOUD") {
		t.Error("the error does not name the malformed PORTAL_GRAPH_CLOUD")
	}
}

var listening = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// TestDevServesAndStops runs `portal dev` as a user would, checks it is
// ready, and stops it as a container platform would.
func TestDevServesAndStops(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PORTAL_ADDR": "127.0.0.1:0", "PORTAL_DATABASE_URL": "sqlite:" + filepath.Join(dir, "portal.db")}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev"}, func(k string) string { return vars[k] }, nil, out, io.Discard)
	}()

	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("portal dev stopped early: %v\n%s", err, out.String())
		default:
		}
	}
	if addr == "" {
		t.Fatalf("portal dev never listened:\n%s", out.String())
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"graph_token":"ok"`) {
		t.Fatalf("/readyz = %d %s", resp.StatusCode, body)
	}
	if err := healthcheck(context.Background(), func(string) string { return addr }); err != nil {
		t.Fatalf("healthcheck = %v", err)
	}
	// The demo says where it is, as it listens, not a default address.
	if !strings.Contains(out.String(), "TAP Portal demo is ready: open http://"+addr+" ") {
		t.Errorf("portal dev did not print http://%s as its URL:\n%s", addr, out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("portal dev after the stop signal = %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("portal dev did not stop")
	}

	// The demo's history verifies with the demo's key, against the
	// checkpoints it logged when it started and when it stopped.
	var report bytes.Buffer
	err = run(context.Background(), []string{"audit", "verify", "-checkpoints", "-"}, func(k string) string { return vars[k] }, strings.NewReader(out.String()), &report, io.Discard)
	if err != nil || !strings.Contains(report.String(), "history chain intact") || !strings.Contains(report.String(), "2 verified (from the database and 2 from the log)") {
		t.Errorf("portal audit verify -checkpoints - = %v\n%s\nwant intact, with the checkpoints of the start and the stop", err, report.String())
	}
}

func TestAuditVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "PORTAL_DATABASE_URL" {
			return "sqlite:" + filepath.Join(dir, "portal.db")
		}
		return ""
	}
	for _, tt := range []struct {
		args  []string
		stdin string
		says  string
	}{
		{[]string{"audit"}, "", "usage: portal audit verify"},
		{[]string{"audit", "verify", "extra"}, "", "usage: portal audit verify"},
		{[]string{"audit", "verify", "-checkpoints"}, "", "flag needs an argument"},
		{[]string{"audit", "verify"}, "", "PORTAL_AUDIT_KEY is required"},
	} {
		err := run(context.Background(), tt.args, env, strings.NewReader(tt.stdin), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("portal %s = %v, want an error saying %q", strings.Join(tt.args, " "), err, tt.says)
		}
	}
	withKey := func(k string) string {
		if k == "PORTAL_AUDIT_KEY" {
			return "an audit key of at least thirty-two characters"
		}
		return env(k)
	}
	err := run(context.Background(), []string{"audit", "verify", "-checkpoints", "-"}, withKey, strings.NewReader("{\"msg\":\"listening\"}\n"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "holds no audit checkpoint") {
		t.Errorf("portal audit verify -checkpoints with a log of no checkpoint = %v, want an error saying so", err)
	}
	err = run(context.Background(), []string{"audit", "verify", "-checkpoints", filepath.Join(dir, "missing.log")}, withKey, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("portal audit verify -checkpoints with a missing file = %v, want an error saying so", err)
	}
}
