package graph

import (
	"encoding/base64"
	"testing"

	"github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tapportal/portal/internal/portal"
)

// TestReplyItems reads a $batch reply as Graph may send it: JSON bodies,
// a body base64-encoded in a string, an error with Graph's error body and
// headers, an error with no body, and an item that is missing.
func TestReplyItems(t *testing.T) {
	user := `{"id":"u-1","displayName":"Noah Berg"}`
	raw := `{"responses":[
		{"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":` + user + `},
		{"id":"2","status":200,"headers":{"Content-Type":"application/octet-stream"},"body":"` + base64.StdEncoding.EncodeToString([]byte(user)) + `"},
		{"id":"3","status":404,"headers":{"request-id":"req-3"},"body":{"error":{"code":"Request_ResourceNotFound","message":"Resource 'u-9' does not exist."}}},
		{"id":"4","status":429,"headers":{"Retry-After":"7"}}
	]}`
	node, err := jsonserialization.NewJsonParseNode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	v, err := node.GetObjectValue(func(serialization.ParseNode) (serialization.Parsable, error) { return &envelope{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	r := reply{}
	for _, it := range v.(*envelope).items {
		r[it.id] = it.replyItem
	}
	for _, id := range []string{"1", "2"} {
		u, err := r.value(id, opUser, models.CreateUserFromDiscriminatorValue)
		if err != nil || deref(u.(models.Userable).GetDisplayName()) != "Noah Berg" {
			t.Errorf("item %s = %v, %v; want the user", id, u, err)
		}
	}
	_, err = r.value("3", opUser, models.CreateUserFromDiscriminatorValue)
	if e, ok := err.(*portal.Error); !ok || e.Code != portal.ENotFound || e.RequestID != "req-3" {
		t.Errorf("item 3 = %v, want not found with Graph's request id", err)
	}
	if !r.transient("4") || r.retryAfter("4").Seconds() != 7 || r.transient("3") {
		t.Errorf("item 4: transient %v, wait %v; want a 429 to wait 7 s (and item 3 not transient)", r.transient("4"), r.retryAfter("4"))
	}
	if _, err := r.value("4", opUser, models.CreateUserFromDiscriminatorValue); portal.ErrorCode(err) != portal.EThrottled {
		t.Errorf("item 4 = %v, want throttled", err)
	}
	if _, err := r.value("5", opUser, models.CreateUserFromDiscriminatorValue); portal.ErrorCode(err) != portal.EInternal {
		t.Errorf("a missing item = %v, want an internal error", err)
	}
}
