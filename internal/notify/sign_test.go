package notify_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/notify"
)

var (
	oldSecret   = bytes.Repeat([]byte("o"), 32)
	newSecret   = bytes.Repeat([]byte("n"), 40)
	otherSecret = bytes.Repeat([]byte("x"), 32)
)

// signed returns the headers a sender signing with secrets sends.
func signed(secrets [][]byte, id string, at time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(notify.HeaderID, id)
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(notify.HeaderSignature, notify.Sign(secrets, id, at, body))
	return h
}

// TestSignKnownAnswer checks Sign against the example the Standard
// Webhooks specification publishes, so that receivers using the scheme's
// own libraries verify what the portal sends.
func TestSignKnownAnswer(t *testing.T) {
	secret, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := notify.Sign([][]byte{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign(the specification's example) = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt-1","kind":"pass.issued"}`)
	for _, tc := range []struct {
		name    string
		signing [][]byte // the sender's secrets
		verify  [][]byte // the receiver's
		change  func(h http.Header, body []byte) []byte
		want    error
	}{
		{"one secret", [][]byte{oldSecret}, [][]byte{oldSecret}, nil, nil},
		{"rotation: receiver still on the old secret", [][]byte{newSecret, oldSecret}, [][]byte{oldSecret}, nil, nil},
		{"rotation: receiver already on the new secret", [][]byte{newSecret, oldSecret}, [][]byte{newSecret}, nil, nil},
		{"receiver holding both", [][]byte{newSecret}, [][]byte{oldSecret, newSecret}, nil, nil},
		{"wrong secret", [][]byte{newSecret, oldSecret}, [][]byte{otherSecret}, nil, notify.ErrSignature},
		{"tampered body", [][]byte{oldSecret}, [][]byte{oldSecret}, func(_ http.Header, b []byte) []byte {
			return bytes.Replace(b, []byte("evt-1"), []byte("evt-2"), 1)
		}, notify.ErrSignature},
		{"another id", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderID, "evt-2")
			return b
		}, notify.ErrSignature},
		{"timestamp moved", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return b
		}, notify.ErrSignature},
		{"replayed late", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderTimestamp, strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10))
			h.Set(notify.HeaderSignature, notify.Sign([][]byte{oldSecret}, h.Get(notify.HeaderID), now.Add(-6*time.Minute), b))
			return b
		}, notify.ErrTimestamp},
		{"from the future", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderTimestamp, strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10))
			h.Set(notify.HeaderSignature, notify.Sign([][]byte{oldSecret}, h.Get(notify.HeaderID), now.Add(6*time.Minute), b))
			return b
		}, notify.ErrTimestamp},
		{"no signature header", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Del(notify.HeaderSignature)
			return b
		}, notify.ErrSignature},
		{"timestamp not a number", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderTimestamp, "yesterday")
			return b
		}, notify.ErrSignature},
		{"other versions and junk beside a good one", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderSignature, "v1a,AAAA v1,!!! v2,"+strings.TrimPrefix(h.Get(notify.HeaderSignature), "v1,")+"  "+h.Get(notify.HeaderSignature))
			return b
		}, nil},
		{"a good signature under another version", [][]byte{oldSecret}, [][]byte{oldSecret}, func(h http.Header, b []byte) []byte {
			h.Set(notify.HeaderSignature, "v2,"+strings.TrimPrefix(h.Get(notify.HeaderSignature), "v1,"))
			return b
		}, notify.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := signed(tc.signing, "evt-1", now, body)
			b := bytes.Clone(body)
			if tc.change != nil {
				b = tc.change(h, b)
			}
			err := notify.Verify(tc.verify, h, b, now, 0)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignOnePerSecret(t *testing.T) {
	got := strings.Fields(notify.Sign([][]byte{newSecret, oldSecret}, "evt-1", time.Unix(1, 0), []byte("{}")))
	if len(got) != 2 || !strings.HasPrefix(got[0], "v1,") || !strings.HasPrefix(got[1], "v1,") || got[0] == got[1] {
		t.Errorf("Sign(two secrets) = %q, want two different v1 signatures", got)
	}
}

func TestParseSecret(t *testing.T) {
	raw := bytes.Repeat([]byte{0xa5}, 32)
	for _, tc := range []struct {
		in      string
		want    []byte
		wantErr string
	}{
		{notify.FormatSecret(raw), raw, ""},
		{base64.StdEncoding.EncodeToString(raw), raw, ""},
		{" " + notify.FormatSecret(raw) + "\n", raw, ""},
		{notify.FormatSecret(raw[:24]), raw[:24], ""},
		{notify.FormatSecret(bytes.Repeat([]byte{0xa5}, 64)), bytes.Repeat([]byte{0xa5}, 64), ""},
		{notify.FormatSecret(raw[:23]), nil, "the webhook secret is 23 bytes: want 24 to 64"},
		{notify.FormatSecret(bytes.Repeat([]byte{0xa5}, 65)), nil, "the webhook secret is 65 bytes: want 24 to 64"},
		{"whsec_not base64!", nil, "not whsec_ followed by base64"},
		{"", nil, "0 bytes"},
	} {
		got, err := notify.ParseSecret(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || !bytes.Equal(got, tc.want)):
			t.Errorf("ParseSecret(%q) = %x, %v; want %x", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseSecret(%q) = %v, want an error saying %q", tc.in, err, tc.wantErr)
		}
	}
}
