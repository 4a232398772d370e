package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

// child is a process the bench started, its output in a file.
type child struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func start(dir, name string, env []string, bin string, args ...string) (*child, error) {
	log := filepath.Join(dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	bin, err = filepath.Abs(bin)
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, f, f, dir
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &child{cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait(); f.Close() }()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited returns the process's error and log if it has stopped.
func (c *child) exited() error {
	select {
	case err := <-c.done:
		out, _ := os.ReadFile(c.log)
		return fmt.Errorf("%s stopped (%v):\n%s", c.cmd.Path, err, out)
	default:
		return nil
	}
}

func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
	}
}

func waitHealthy(base string, c *child) error { return waitFor(base+"/healthz", c) }

// waitFor polls url until it answers 200, for at most a minute.
func waitFor(url string, c *child) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := c.exited(); err != nil {
			return err
		}
		if code, err := get(url, ""); err == nil && code == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("%s did not answer within a minute", url)
}

func get(url, cookie string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

var (
	authRequestID = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfField     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	submission    = regexp.MustCompile(`name="submission" value="([^"]+)"`)
	staticRef     = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
)

// signIn signs in to the portal at base through the demo provider's
// persona picker and returns the Cookie header of the session.
func signIn(base, persona string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/auth/login?return_to=/search")
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := authRequestID.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("sign-in: no persona picker at %s", resp.Request.URL)
	}
	picker := resp.Request.URL
	resp, err = c.PostForm(picker.Scheme+"://"+picker.Host+"/login", url.Values{"authRequestID": {string(m[1])}, "persona": {persona}})
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign-in as %s ended with %d at %s", persona, resp.StatusCode, resp.Request.URL)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		return "", errors.New("sign-in left no cookie")
	}
	return strings.Join(parts, "; "), nil
}

// issueRequests issues a pass to a demo user who may have one and counts
// the Graph requests of the submit alone.
func issueRequests(base, cookie string, emu *graphemu.Server) (trips, items int, err error) {
	target := base + "/users/" + graphemu.TAPExpiredUserID + "/issue"
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := csrfField.FindSubmatch(form)
	if csrf == nil {
		return 0, 0, fmt.Errorf("the issue form (%d) has no CSRF token", resp.StatusCode)
	}
	v := url.Values{"csrf": {string(csrf[1])}, "start": {"now"}, "lifetime": {"60"}, "reason": {"Bench: counting Graph requests"}}
	if s := submission.FindSubmatch(form); s != nil {
		v.Set("submission", string(s[1]))
	}
	emu.ResetRequests()
	req, _ = http.NewRequest(http.MethodPost, target, strings.NewReader(v.Encode()))
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("issuing a pass answered %d", resp.StatusCode)
	}
	trips, items = graphRequests(emu.Requests())
	return trips, items, nil
}

// firstLoad fetches the page and the static files it names as a browser
// with an empty cache would, asking for brotli, and sums what came over
// the wire: status line, headers and body.
func firstLoad(page, cookie string) (bytes, requests int, err error) {
	fetch := func(u string) ([]byte, int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept-Encoding", "br, gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, 0, "", fmt.Errorf("%s answered %d", u, resp.StatusCode)
		}
		n := len(resp.Proto) + len(resp.Status) + 4 + len(body)
		for k, vs := range resp.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		return body, n, resp.Header.Get("Content-Encoding"), err
	}
	_, n, enc, err := fetch(page)
	if err != nil {
		return 0, 0, err
	}
	if enc == "" {
		return 0, 0, errors.New("the page came uncompressed")
	}
	bytes, requests = n, 1
	u, _ := url.Parse(page)
	// The page itself is compressed: ask for it again plainly to read
	// which static files it names.
	req, _ := http.NewRequest(http.MethodGet, page, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	plain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seen := map[string]bool{}
	for _, m := range staticRef.FindAllSubmatch(plain, -1) {
		ref := string(m[1])
		if seen[ref] {
			continue
		}
		seen[ref] = true
		_, n, _, err := fetch(u.Scheme + "://" + u.Host + ref)
		if err != nil {
			return 0, 0, err
		}
		bytes += n
		requests++
	}
	return bytes, requests, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func certPool(caPEM []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the floor's CA file")
	}
	return p, nil
}
