package devoidc_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/devoidc"
)

func TestPicker(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	rp := newRelyingParty(t, p)
	resp, body, id := rp.openPicker(t, rp.authURL(newFlow()))

	wantHeaders := map[string]string{
		"Content-Type": "text/html; charset=utf-8",
		// The form's answer redirects to the client, so its origin is
		// allowed as a form target; nothing else is.
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self' http://localhost:8080; frame-ancestors 'none'; base-uri 'none'",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
	}
	for name, want := range wantHeaders {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}

	if !strings.Contains(body, "<h1>Northwind Traders — demo sign-in</h1>") {
		t.Error("picker has no heading \"Northwind Traders — demo sign-in\"")
	}
	if !strings.Contains(body, `name="authRequestID" value="`+id+`"`) {
		t.Errorf("picker form does not carry the auth request id %q", id)
	}
	for _, persona := range devoidc.DemoPersonas() {
		button := regexp.MustCompile(`(?s)<button type="submit" name="persona" value="` + regexp.QuoteMeta(persona.Key) + `"[^>]*>(.*?)</button>`).FindStringSubmatch(body)
		if button == nil {
			t.Errorf("picker has no button for persona %q", persona.Key)
			continue
		}
		wantRoles := "No role"
		if len(persona.Roles) > 0 {
			wantRoles = "Role: " + persona.Roles[0]
		}
		for _, want := range []string{persona.Name, persona.Email, wantRoles, persona.Description} {
			if !strings.Contains(button[1], html.EscapeString(want)) {
				t.Errorf("button for %q does not show %q", persona.Key, want)
			}
		}
	}
	// The policy above forbids inline script and style, so there must be
	// none for it to block.
	for _, forbidden := range []string{"<script", "<style", " style=", " onclick="} {
		if strings.Contains(body, forbidden) {
			t.Errorf("picker contains %q", forbidden)
		}
	}

	stylesheet := regexp.MustCompile(`<link rel="stylesheet" href="(/[^"]+)">`).FindStringSubmatch(body)
	if stylesheet == nil {
		t.Fatal("picker links no stylesheet of its own")
	}
	cssResp, css := rp.get(t, p.Issuer()+stylesheet[1])
	if cssResp.StatusCode != http.StatusOK || cssResp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css, ".persona") {
		t.Errorf("GET %s: status %d, Content-Type %q, want 200 and the stylesheet", stylesheet[1], cssResp.StatusCode, cssResp.Header.Get("Content-Type"))
	}
}

func TestPickerEscapesPersonas(t *testing.T) {
	p := startProvider(t, devoidc.Options{Personas: []devoidc.Persona{{
		Key:         `k"><script>alert(1)</script>`,
		Name:        `<script>alert("name")</script>`,
		Email:       `a&b@northwind.example`,
		Subject:     "s1",
		Roles:       []string{`<img src=x onerror=alert(2)>`},
		Description: `<b>bold</b> & "quoted"`,
	}}})
	rp := newRelyingParty(t, p)
	_, body, _ := rp.openPicker(t, rp.authURL(newFlow()))

	for _, raw := range []string{"<script>", "<img", "<b>"} {
		if strings.Contains(body, raw) {
			t.Errorf("picker contains unescaped %q", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;", "a&amp;b@northwind.example", "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;"} {
		if !strings.Contains(body, escaped) {
			t.Errorf("picker does not contain %q", escaped)
		}
	}
}

func TestPickerRefusals(t *testing.T) {
	p := startProvider(t, devoidc.Options{})
	stale := func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "This sign-in has expired") {
			t.Errorf("status %d, want 400 and the expired page: %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
			t.Errorf("Content-Security-Policy = %q, want default-src 'none'", got)
		}
	}

	t.Run("unknown auth request", func(t *testing.T) {
		rp := newRelyingParty(t, p)
		resp, body := rp.get(t, p.Issuer()+"/login?authRequestID=made-up")
		stale(t, resp, body)
		resp, body = rp.post(t, p.Issuer()+"/login", url.Values{"authRequestID": {"made-up"}, "persona": {"operator"}})
		stale(t, resp, body)
	})

	t.Run("completed auth request", func(t *testing.T) {
		// The back button after a sign-in leads to the picker of a
		// completed request; choosing again must not issue a second code.
		rp := newRelyingParty(t, p)
		_, _, id := rp.openPicker(t, rp.authURL(newFlow()))
		rp.choose(t, id, url.Values{"persona": {"operator"}})
		resp, body := rp.get(t, p.Issuer()+"/login?authRequestID="+url.QueryEscape(id))
		stale(t, resp, body)
		resp, body = rp.post(t, p.Issuer()+"/login", url.Values{"authRequestID": {id}, "persona": {"supervisor"}})
		stale(t, resp, body)
	})

	t.Run("unknown persona", func(t *testing.T) {
		rp := newRelyingParty(t, p)
		_, _, id := rp.openPicker(t, rp.authURL(newFlow()))
		resp, body := rp.post(t, p.Issuer()+"/login", url.Values{"authRequestID": {id}, "persona": {"nobody"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400: %s", resp.StatusCode, body)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		rp := newRelyingParty(t, p)
		f := newFlow()
		_, _, id := rp.openPicker(t, rp.authURL(f))
		loc := rp.choose(t, id, url.Values{"cancel": {"cancel"}})
		q := loc.Query()
		if withoutQuery(loc) != redirectURI || q.Get("error") != "access_denied" || q.Get("state") != f.state || q.Has("code") {
			t.Errorf("cancel redirected to %s, want %s with error=access_denied, the state and no code", loc, redirectURI)
		}
	})
}
