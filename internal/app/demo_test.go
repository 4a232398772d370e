//go:build !nodemo

package app_test

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// startDemo starts the demo tenant with the demo's default settings.
func startDemo(t *testing.T) (config.Config, *app.Demo) {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" }, true)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := app.StartDemo(&cfg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Close)
	return cfg, demo
}

// TestDemoPersonasMatchTheTenant keeps the two halves of the demo telling
// one story: each persona of the sign-in picker is a user of the emulated
// directory with the same name, and the roles in their ID token are the
// app roles the directory assigns them on the sign-in app.
func TestDemoPersonasMatchTheTenant(t *testing.T) {
	cfg, demo := startDemo(t)
	if cfg.OIDCClientID != graphemu.DemoSignInAppID {
		t.Fatalf("the demo signs in to %s, but the tenant's sign-in app is %s", cfg.OIDCClientID, graphemu.DemoSignInAppID)
	}
	demo.Graph.View(func(tn *graphemu.Tenant) {
		sp := tn.ServicePrincipalByAppID(graphemu.DemoSignInAppID)
		if sp == nil {
			t.Fatal("the tenant has no service principal for the sign-in app")
		}
		for _, p := range devoidc.DemoPersonas() {
			u := tn.LookupUser(p.Subject)
			if u == nil || u.DisplayName != p.Name {
				t.Errorf("persona %s (%s) is not the directory's user %v", p.Key, p.Name, u)
				continue
			}
			var values []string
			for _, a := range sp.Assignments {
				if a.PrincipalID != p.Subject {
					continue
				}
				for _, r := range sp.AppRoles {
					if r.ID == a.AppRoleID {
						values = append(values, r.Value)
					}
				}
			}
			slices.Sort(values)
			want := slices.Clone(p.Roles)
			slices.Sort(want)
			if !slices.Equal(values, want) {
				t.Errorf("persona %s carries roles %v in its ID token, but the directory assigns %v", p.Key, want, values)
			}
		}
	})
}

// TestDemoMailOnlyFromItsMailbox: the demo's Graph app is kept to the
// portal's own mailbox, as an application access policy should keep it,
// so pointing PORTAL_MAIL_FROM elsewhere shows Exchange's refusal; and a
// mail to an address of the tenant that no mailbox holds shows in the
// demo's mailbox as not delivered.
func TestDemoMailOnlyFromItsMailbox(t *testing.T) {
	cfg, demo := startDemo(t)
	gc, err := app.NewGraphClient(cfg, demo.Graph.CertPool(), time.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mail := func(to string) portal.Mail {
		return portal.Mail{To: []portal.Address{{Address: to}}, Subject: "Demo", Text: portal.NewSecret("Hello")}
	}
	_, err = gc.SendMail(t.Context(), "priya.natarajan@"+graphemu.DemoDomain, mail("jose.martinez@"+graphemu.DemoDomain))
	if portal.ErrorCode(err) != portal.EForbidden {
		t.Errorf("sending as another mailbox = %v, want Exchange's refusal", err)
	}
	if _, err := gc.SendMail(t.Context(), cfg.MailFrom, mail("nobody@"+graphemu.DemoDomain)); err != nil {
		t.Fatalf("sending as the portal's mailbox = %v", err)
	}
	mails := demo.Mails()
	if len(mails) != 1 || mails[0].Undelivered != "nobody@"+graphemu.DemoDomain {
		t.Errorf("the demo's mailbox shows %+v, want the one mail, not delivered to nobody@", mails)
	}
}
