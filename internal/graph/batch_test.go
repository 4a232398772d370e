package graph

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/portal"
)

// TestReplyItems reads a $batch reply as Graph may send it: JSON bodies,
// a body base64-encoded in a string, an error with Graph's error body and
// headers, an error with no body, and an item that is missing.
func TestReplyItems(t *testing.T) {
	user := `{"id":"u-1","displayName":"Noah Berg","accountEnabled":true,"userType":"Guest"}`
	raw := `{"responses":[
		{"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":` + user + `},
		{"id":"2","status":200,"headers":{"Content-Type":"application/octet-stream"},"body":"` + base64.StdEncoding.EncodeToString([]byte(user)) + `"},
		{"id":"3","status":404,"headers":{"request-id":"req-3"},"body":{"error":{"code":"Request_ResourceNotFound","message":"Resource 'u-9' does not exist."}}},
		{"id":"4","status":429,"headers":{"Retry-After":"7"}},
		{"id":"6","status":200,"body":{"id":"u-2","displayName":["not","a","name"]}},
		{"id":"7","status":503,"headers":{"Retry-After":7}}
	]}`
	r, err := readReply([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := portal.User{ID: "u-1", DisplayName: "Noah Berg", AccountEnabled: true, Guest: true}
	for _, id := range []string{"1", "2"} {
		u, err := r.body(id, opUser)
		if err != nil || u.user() != want {
			t.Errorf("item %s = %+v, %v; want %+v", id, u, err, want)
		}
	}
	_, err = r.body("3", opUser)
	if e, ok := err.(*portal.Error); !ok || e.Code != portal.ENotFound || e.RequestID != "req-3" {
		t.Errorf("item 3 = %v, want not found with Graph's request id", err)
	}
	if got := r.header("3", "Request-Id"); got != "req-3" {
		t.Errorf("header(3, Request-Id) = %q, want req-3", got)
	}
	if !r.transient("4") || r.retryAfter("4").Seconds() != 7 || r.transient("3") {
		t.Errorf("item 4: transient %v, wait %v; want a 429 to wait 7 s (and item 3 not transient)", r.transient("4"), r.retryAfter("4"))
	}
	if _, err := r.body("4", opUser); portal.ErrorCode(err) != portal.EThrottled {
		t.Errorf("item 4 = %v, want throttled", err)
	}
	if _, err := r.body("5", opUser); portal.ErrorCode(err) != portal.EInternal {
		t.Errorf("a missing item = %v, want an internal error", err)
	}
	if _, err := r.body("6", opUser); portal.ErrorCode(err) != portal.EInternal {
		t.Errorf("an item of the wrong shape = %v, want an internal error", err)
	}
	// Headers that are not strings are read as none; the status still
	// says what went wrong.
	if !r.transient("7") || r.retryAfter("7") != 0 {
		t.Errorf("item 7: transient %v, wait %v; want a 503 with no wait it could read", r.transient("7"), r.retryAfter("7"))
	}
	if _, err := r.body("7", opUser); portal.ErrorCode(err) != portal.EUnavailable {
		t.Errorf("item 7 = %v, want unavailable", err)
	}
}

// TestReplyOnePass reads a reply whose items all succeeded with JSON
// bodies in one pass, and one with a failed item as the other replies,
// to the same users.
func TestReplyOnePass(t *testing.T) {
	ok := `{"responses":[{"id":"2","status":200,"body":{"value":[{"id":"g-1","displayName":"Sales","isAssignableToRole":false},{"id":"g-2"}],"@odata.nextLink":"https://graph.example/next"}},
		{"id":"1","status":200,"headers":{"request-id":"r-1"},"body":{"id":"u-1","userType":"Member","accountEnabled":true}}]}`
	r, err := readReply([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	for id, it := range r {
		if it.Raw != nil {
			t.Errorf("item %s kept its raw body: the reply was not read in one pass", id)
		}
	}
	groups, err := r.body("2", opGroupList)
	if err != nil || groups.Value == nil || len(*groups.Value) != 2 || groups.NextLink != "https://graph.example/next" {
		t.Fatalf("body(2) = %+v, %v; want two groups and the next link", groups, err)
	}
	if got := groupList(*groups.Value); got[0].RoleAssignable || !got[1].RoleAssignable {
		t.Errorf("groupList = %+v, want Sales not role-assignable and g-2 (which Graph did not say) checked as one", got)
	}
	failed := strings.Replace(ok, `{"id":"1","status":200,"headers":{"request-id":"r-1"},"body":{"id":"u-1","userType":"Member","accountEnabled":true}}`,
		`{"id":"1","status":403,"headers":{"request-id":"r-1"},"body":{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges."}}}`, 1)
	r, err = readReply([]byte(failed))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.body("1", opUser); portal.ErrorCode(err) != portal.EForbidden {
		t.Errorf("body(1) = %v, want forbidden", err)
	}
	if groups, err := r.body("2", opGroupList); err != nil || groups.Value == nil || len(*groups.Value) != 2 {
		t.Errorf("body(2) beside a failed item = %+v, %v; want the two groups", groups, err)
	}
}

// TestReadReplyRefuses refuses what is not a batch reply.
func TestReadReplyRefuses(t *testing.T) {
	for _, raw := range []string{``, `[]`, `{}`, `{"responses":[{"id":"1","status":200,"body":"not base64!"}]}`} {
		if _, err := readReply([]byte(raw)); err == nil {
			t.Errorf("readReply(%q) = nil error, want one", raw)
		}
	}
}

// TestCreatedSureOnlyOfRefusals: a create in a batch is known not to have
// happened only when Graph refused it (4xx, a timeout aside); any other
// answer that is not a success leaves it to be settled.
func TestCreatedSureOnlyOfRefusals(t *testing.T) {
	refusal := json.RawMessage(`{"error":{"code":"badRequest","message":"no"}}`)
	for _, tt := range []struct {
		name   string
		item   *replyItem
		unsure bool
	}{
		{"missing", nil, true},
		{"100 with a body", &replyItem{Status: 100, Body: &wireBody{}}, true},
		{"302", &replyItem{Status: 302, Raw: refusal}, true},
		{"400", &replyItem{Status: 400, Raw: refusal}, false},
		{"403", &replyItem{Status: 403, Raw: refusal}, false},
		{"408", &replyItem{Status: 408, Raw: refusal}, true},
		{"429", &replyItem{Status: 429, Raw: refusal}, false},
		{"500", &replyItem{Status: 500, Raw: refusal}, true},
		{"504 without a body", &replyItem{Status: 504}, true},
		{"201 without a passcode", &replyItem{Status: 201, Body: &wireBody{wireObject: wireObject{ID: "tap-1"}}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reply{}
			if tt.item != nil {
				r["1"] = *tt.item
			}
			issued, err := r.created("1")
			var pe *portal.Error
			if !errors.As(err, &pe) || issued.Passcode.Reveal() != "" {
				t.Fatalf("created = %+v, %v; want no pass and a portal error", issued, err)
			}
			if pe.Unsure != tt.unsure {
				t.Errorf("unsure = %v (%v), want %v", pe.Unsure, err, tt.unsure)
			}
		})
	}
}

// TestReplyReadsBrokenText: a name holding half a surrogate pair or bytes
// that are not UTF-8 reads with U+FFFD in their place, in one pass or
// item by item, rather than failing the reply and every page that shows
// the name.
func TestReplyReadsBrokenText(t *testing.T) {
	groups := "{\"value\":[{\"id\":\"g-1\",\"displayName\":\"bad\\ud800name\",\"isAssignableToRole\":false},{\"id\":\"g-2\",\"displayName\":\"raw\xffbyte\"}]}"
	for name, raw := range map[string]string{
		"one pass":     `{"responses":[{"id":"1","status":200,"body":` + groups + `}]}`,
		"item by item": `{"responses":[{"id":"1","status":200,"body":` + groups + `},{"id":"2","status":404}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := readReply([]byte(raw))
			if err != nil {
				t.Fatalf("readReply = %v", err)
			}
			b, err := r.body("1", opUser)
			if err != nil {
				t.Fatalf("item 1 = %v", err)
			}
			items, err := b.listed(opUser)
			if err != nil || len(items) != 2 {
				t.Fatalf("listed = %v, %v; want two groups", items, err)
			}
			if items[0].DisplayName != "bad\uFFFDname" || items[1].DisplayName != "raw\uFFFDbyte" {
				t.Errorf("names = %q, %q; want U+FFFD for what is not text", items[0].DisplayName, items[1].DisplayName)
			}
		})
	}
}

// TestCreatedReplyWithRepeatedName: a create's reply is read even with a
// name given twice (the last wins): the pass exists, and its passcode
// must not be lost over the quirk.
func TestCreatedReplyWithRepeatedName(t *testing.T) {
	body := `{"id":"t-1","temporaryAccessPass":"first","temporaryAccessPass":"Zx8#kq2!","startDateTime":"2026-12-07T10:00:00Z","lifetimeInMinutes":60,"isUsableOnce":true}`
	got, err := issuedOf([]byte(body), "req-1")
	if err != nil {
		t.Fatalf("issuedOf = %v", err)
	}
	if got.Passcode.Reveal() != "Zx8#kq2!" || got.ID != "t-1" {
		t.Errorf("issuedOf = %+v, want the pass with the last passcode given", got)
	}
}
