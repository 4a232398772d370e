package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

// sampleRow is one line of the demo's sample cohort, with what the
// guardrails make of it.
type sampleRow struct {
	local    string // the user's name before the demo domain
	start    string // "" for now, "tomorrow" for 08:30 the next day in Seattle
	lifetime string
	oneTime  string
}

// sampleRows are the sample cohort's users: new starters the portal will
// issue to, and users it leaves out at the preview (an administrator, a
// PIM-eligible one, an executive of the protected group, a user who holds
// a working pass, a disabled account, and a name not in the directory).
// The new starters' passes last at most DemoApprovalLifetimeOver and none
// is in the finance team, so that only the run's size sends it to a second
// pair of eyes, and a run under that rule's limit starts at once.
var sampleRows = []sampleRow{
	{"john.smith", "tomorrow", "240", "no"},
	{"johnny.smithers", "tomorrow", "240", "no"},
	{"sarah.lee", "tomorrow", "240", "yes"},
	{"ana.souza", "", "60", "yes"},
	{"liam.murphy", "tomorrow", "240", "no"},
	{"noah.wilson", "", "120", "no"},
	{"sophie.martin", "tomorrow", "240", "yes"},
	{"oliver.grant", "tomorrow", "480", "no"},
	{"rafael.costa", "tomorrow", "480", "no"},
	{"catherine.wallace", "tomorrow", "480", "no"},
	{"tomas.herrera", "", "60", "no"},
	{"victor.hale", "", "60", "no"},
	{"new.starter", "tomorrow", "480", "no"},
}

// SampleCohort writes the demo tenant's sample cohort file for now: every
// start is within the policy's reach from now.
func SampleCohort(now time.Time) string {
	seattle, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		seattle = time.FixedZone("PST", -8*3600)
	}
	tomorrow := now.In(seattle).AddDate(0, 0, 1).Format("2006-01-02") + " 08:30 " + seattle.String()
	var b strings.Builder
	b.WriteString("user,start,lifetime_minutes,one_time,reason,ticket\r\n")
	for i, r := range sampleRows {
		start := ""
		if r.start == "tomorrow" {
			start = tomorrow
		}
		fmt.Fprintf(&b, "%s@%s,%s,%s,%s,First day: set up Authenticator,HR-%d\r\n", r.local, graphemu.DemoDomain, start, r.lifetime, r.oneTime, 2001+i)
	}
	return b.String()
}
