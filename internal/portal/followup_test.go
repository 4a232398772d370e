package portal

import (
	"strings"
	"testing"
	"time"
)

func TestFollowUpOf(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	made := now.Add(-2 * time.Hour)
	pass := func(oneTime, usable bool, reason string) TAP {
		return TAP{ID: "p", Created: made, Start: made, LifetimeMinutes: 480, OneTime: oneTime, Usable: usable, Reason: reason}
	}
	before := Method{ID: "m1", Kind: MethodAuthenticator, Created: made.Add(-24 * time.Hour)}
	after := Method{ID: "m2", Kind: MethodFIDO2, Created: made.Add(30 * time.Minute)}
	later := Method{ID: "m3", Kind: MethodAuthenticator, Created: made.Add(time.Hour)}
	phone := Method{ID: "m4", Kind: MethodPhone}
	password := Method{ID: "m5", Kind: MethodPassword, Created: made.Add(time.Minute)}
	for _, tt := range []struct {
		name        string
		tap         TAP
		methods     []Method
		known       bool
		use         Use
		after       []string
		undated     int
		stillUsable bool
	}{
		{"one-time, used, then a key registered", pass(true, false, "OneTimeUsed"), []Method{before, after}, true, UseUsed, []string{"m2"}, 0, false},
		{"one-time, still usable: not used", pass(true, true, "EnabledByPolicy"), []Method{before}, true, UseNotUsed, nil, 0, false},
		{"not started yet", TAP{Created: made, Start: now.Add(time.Hour), LifetimeMinutes: 60, Reason: "NotYetValid"}, nil, true, UseNotUsed, nil, 0, false},
		{"reusable, usable, methods registered since: revoke it", pass(false, true, "EnabledByPolicy"), []Method{later, before, after, password, phone}, true,
			UseUnknown, []string{"m2", "m3"}, 1, true},
		{"reusable, expired, registered since", pass(false, false, "Expired"), []Method{after}, true, UseUnknown, []string{"m2"}, 0, false},
		{"one-time, expired: Graph cannot tell", pass(true, false, "Expired"), nil, true, UseUnknown, nil, 0, false},
		{"methods unreadable", pass(false, true, "EnabledByPolicy"), nil, false, UseUnknown, nil, 0, false},
		{"only an undated phone: nothing known registered since", pass(false, true, "EnabledByPolicy"), []Method{phone}, true, UseUnknown, nil, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := FollowUpOf(tt.tap, tt.methods, tt.known, now)
			var ids []string
			for _, m := range f.After {
				ids = append(ids, m.ID)
			}
			if f.Use != tt.use || f.UseWhy == "" || len(ids) != len(tt.after) || len(f.Undated) != tt.undated ||
				f.StillUsable != tt.stillUsable || f.MethodsUnknown == tt.known {
				t.Fatalf("FollowUpOf = %+v (after %v); want use %s, after %v, %d undated, still usable %v, methods known %v",
					f, ids, tt.use, tt.after, tt.undated, tt.stillUsable, tt.known)
			}
			for i := range ids {
				if ids[i] != tt.after[i] {
					t.Fatalf("after = %v, want %v oldest first", ids, tt.after)
				}
			}
		})
	}
}

// TestAddSignIn: Graph keeps the user's last sign-in only, without its
// method, so only a sign-in within the pass's life is reported, and as a
// sign-in, never as the pass's use.
func TestAddSignIn(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pass := TAP{Start: start, LifetimeMinutes: 60}
	for _, tt := range []struct {
		name     string
		last     time.Time
		err      error
		signedIn bool
		says     string
	}{
		{"never signed in", time.Time{}, nil, false, "holds no sign-in"},
		{"before the pass", start.Add(-time.Minute), nil, false, "has not signed in since the pass started"},
		{"while it worked", start.Add(30 * time.Minute), nil, true, "while the pass worked"},
		{"at its end", start.Add(time.Hour), nil, true, "while the pass worked"},
		{"after it ended", start.Add(61 * time.Minute), nil, false, "any while it worked is not known"},
		{"not readable", time.Time{}, &Error{Code: EForbidden, Message: "No licence."}, false, "could not be read: No licence."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := FollowUp{Use: UseUnknown}
			f.AddSignIn(pass, tt.last, tt.err)
			if !f.SignedIn.IsZero() != tt.signedIn || !strings.Contains(f.SignIn, tt.says) || f.Use != UseUnknown {
				t.Fatalf("follow-up = %+v; want signed in %v, saying %q, use still unknown", f, tt.signedIn, tt.says)
			}
		})
	}
}
