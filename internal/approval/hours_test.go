package approval_test

import (
	"testing"
	"time"
	// The zone database is embedded so that the tests of zones and of
	// clock changes run the same on a machine without one.
	_ "time/tzdata"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

func TestParseHours(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // as String writes it back
	}{
		{"", ""},
		{"off", ""},
		{"  OFF ", ""},
		{"Mon-Fri 08:00-18:00 Europe/London", "Mon-Fri 08:00-18:00 Europe/London"},
		{"mon-fri 8:00-18:00 Europe/London", "Mon-Fri 08:00-18:00 Europe/London"},
		{"Mon,Wed,Fri 09:00-17:30 America/New_York", "Mon,Wed,Fri 09:00-17:30 America/New_York"},
		{"Mon-Wed,Fri 07:00-19:00 UTC", "Mon-Wed,Fri 07:00-19:00 UTC"},
		{"Monday - Friday 08:00 - 18:00 Europe/Paris", "Mon-Fri 08:00-18:00 Europe/Paris"},
		{"Mon, Tue 08:00-12:00 Europe/Paris", "Mon,Tue 08:00-12:00 Europe/Paris"},
		// A range runs on past Sunday.
		{"Sat-Mon 10:00-14:00 Asia/Tokyo", "Mon,Sat,Sun 10:00-14:00 Asia/Tokyo"},
		{"Sun-Thu 08:00-17:00 Asia/Dubai", "Mon-Thu,Sun 08:00-17:00 Asia/Dubai"},
		{"Fri-Fri 08:00-17:00 Asia/Dubai", "Fri 08:00-17:00 Asia/Dubai"},
		{"Mon-Sun 00:00-24:00 UTC", "Mon-Sun 00:00-24:00 UTC"},
	} {
		h, err := approval.ParseHours(tc.in)
		if err != nil {
			t.Errorf("ParseHours(%q) = %v, want %s", tc.in, err, tc.want)
			continue
		}
		if got := h.String(); got != tc.want {
			t.Errorf("ParseHours(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		if h.IsZero() != (tc.want == "") {
			t.Errorf("ParseHours(%q).IsZero() = %v, want %v", tc.in, h.IsZero(), tc.want == "")
		}
		if again, err := approval.ParseHours(h.String()); err != nil || again.String() != h.String() {
			t.Errorf("ParseHours(%q) = %v, %v; want it to read its own writing", h.String(), again, err)
		}
	}
}

func TestParseHoursRefused(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mon-Fri 18:00-08:00 Europe/London",
			`The working hours "Mon-Fri 18:00-08:00 Europe/London" end at 08:00, before they start at 18:00: want an end after the start on the same day, as in 08:00-18:00.`},
		{"Mon-Fri 08:00-08:00 Europe/London",
			`The working hours "Mon-Fri 08:00-08:00 Europe/London" start and end at 08:00: want an end after the start, as in 08:00-18:00.`},
		{"Mon-Fry 08:00-18:00 Europe/London",
			`The working hours "Mon-Fry 08:00-18:00 Europe/London" name the day "Fry", which is not one: want Mon, Tue, Wed, Thu, Fri, Sat or Sun, in ranges (Mon-Fri) or lists (Mon,Wed,Fri).`},
		{"Lun-Ven 08:00-18:00 Europe/Paris",
			`The working hours "Lun-Ven 08:00-18:00 Europe/Paris" name the day "Lun", which is not one: want Mon, Tue, Wed, Thu, Fri, Sat or Sun, in ranges (Mon-Fri) or lists (Mon,Wed,Fri).`},
		{"Mon,,Fri 08:00-18:00 Europe/London",
			`The working hours "Mon,,Fri 08:00-18:00 Europe/London" have an empty day in "Mon,,Fri": want days separated by single commas, as in Mon,Wed,Fri.`},
		{"Mon-Fri,Wed 08:00-18:00 Europe/London",
			`The working hours "Mon-Fri,Wed 08:00-18:00 Europe/London" name Wed twice: want each day once, as in Mon-Fri or Mon,Wed,Fri.`},
		{"Mon-Fri 08:00:00-18:00 Europe/London",
			`The working hours "Mon-Fri 08:00:00-18:00 Europe/London" give the time 08:00:00 with seconds: want hours and minutes only, such as 08:00.`},
		{"Mon-Fri 08:00-17:59:59 Europe/London",
			`The working hours "Mon-Fri 08:00-17:59:59 Europe/London" give the time 17:59:59 with seconds: want hours and minutes only, such as 17:59.`},
		{"Mon-Fri 8am-6pm Europe/London",
			`The working hours "Mon-Fri 8am-6pm Europe/London" give the time "8am", which is not a 24-hour time: want HH:MM, such as 08:00 or 17:30.`},
		{"Mon-Fri 08:00-25:00 Europe/London",
			`The working hours "Mon-Fri 08:00-25:00 Europe/London" give the time 25:00, which is not a time of day: want 00:00 to 23:59 (24:00 for an end at midnight).`},
		{"Mon-Fri 24:00-24:00 UTC",
			`The working hours "Mon-Fri 24:00-24:00 UTC" give the time 24:00, which is not a time of day: want 00:00 to 23:59 (24:00 for an end at midnight).`},
		{"Mon-Fri 08:60-18:00 UTC",
			`The working hours "Mon-Fri 08:60-18:00 UTC" give the time 08:60, which is not a time of day: want 00:00 to 23:59 (24:00 for an end at midnight).`},
		{"Mon-Fri 08:00 Europe/London",
			`The working hours "Mon-Fri 08:00 Europe/London" give the times "08:00", not a start and an end: want HH:MM-HH:MM, as in 08:00-18:00.`},
		{"Mon-Fri 08:00-18:00 Europe/Londn",
			`The working hours "Mon-Fri 08:00-18:00 Europe/Londn" name the time zone "Europe/Londn", which is not one: want an IANA zone such as Europe/London or America/New_York.`},
		{"Mon-Fri 08:00-18:00 Local",
			`The working hours "Mon-Fri 08:00-18:00 Local" name the time zone "Local", which is not one: want an IANA zone such as Europe/London or America/New_York.`},
		{"Mon-Fri 08:00-18:00 GMT+1",
			`The working hours "Mon-Fri 08:00-18:00 GMT+1" name the time zone "GMT+1", which is not one: want an IANA zone such as Europe/London or America/New_York.`},
		{"Mon-Fri 08:00-18:00",
			`The working hours "Mon-Fri 08:00-18:00" have no time zone: want DAYS HH:MM-HH:MM ZONE, as in Mon-Fri 08:00-18:00 Europe/London.`},
		{"Mon-Fri Europe/London",
			`The working hours "Mon-Fri Europe/London" give no times: want DAYS HH:MM-HH:MM ZONE, as in Mon-Fri 08:00-18:00 Europe/London.`},
		{"08:00-18:00 Europe/London",
			`The working hours "08:00-18:00 Europe/London" name no days: want DAYS HH:MM-HH:MM ZONE, as in Mon-Fri 08:00-18:00 Europe/London.`},
		{"weekdays",
			`The working hours "weekdays" are not DAYS HH:MM-HH:MM ZONE, as in Mon-Fri 08:00-18:00 Europe/London.`},
	} {
		h, err := approval.ParseHours(tc.in)
		if err == nil {
			t.Errorf("ParseHours(%q) = %v, want an error", tc.in, h)
			continue
		}
		if got := portal.ErrorMessage(err); got != tc.want || portal.ErrorCode(err) != portal.EInvalid {
			t.Errorf("ParseHours(%q) = %s (%s), want %s (invalid)", tc.in, got, portal.ErrorCode(err), tc.want)
		}
	}
}

// TestHoursContains reads the hours on the zone's wall clock: the start
// is inside, the end outside, and the days the clocks change keep the
// office's hours, including a window the clocks skip.
func TestHoursContains(t *testing.T) {
	parse := func(s string) approval.Hours {
		h, err := approval.ParseHours(s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	london := parse("Mon-Fri 08:00-18:00 Europe/London")
	everyDay := parse("Mon-Sun 08:00-18:00 Europe/London")
	fallBack := parse("Sun 01:00-01:30 Europe/London")
	skipped := parse("Sun 02:00-03:00 America/New_York")
	allDay := parse("Mon-Sun 00:00-24:00 UTC")
	utc := func(month time.Month, day, hour, min, sec int) time.Time {
		return time.Date(2026, month, day, hour, min, sec, 0, time.UTC)
	}
	for _, tc := range []struct {
		name  string
		hours approval.Hours
		at    time.Time
		want  bool
	}{
		// Monday 2 March 2026: London is on GMT.
		{"Monday at the start", london, utc(3, 2, 8, 0, 0), true},
		{"Monday a second before the start", london, utc(3, 2, 7, 59, 59), false},
		{"Monday a second before the end", london, utc(3, 2, 17, 59, 59), true},
		{"Monday at the end", london, utc(3, 2, 18, 0, 0), false},
		{"Saturday at noon", london, utc(3, 7, 12, 0, 0), false},
		{"Friday at noon, given in another zone", london, time.Date(2026, 3, 6, 7, 0, 0, 0, time.FixedZone("EST", -5*3600)), true},
		// Summer time: 07:30 UTC is 08:30 in London.
		{"a summer Monday at 08:30 London", london, utc(6, 1, 7, 30, 0), true},
		{"a summer Monday at 18:30 London", london, utc(6, 1, 17, 30, 0), false},
		// Sunday 29 March 2026: the clocks go forward at 01:00 GMT.
		{"the Saturday before, 07:30 GMT", everyDay, utc(3, 28, 7, 30, 0), false},
		{"the day clocks go forward, 08:30 BST", everyDay, utc(3, 29, 7, 30, 0), true},
		{"the day clocks go forward, 18:30 BST", everyDay, utc(3, 29, 17, 30, 0), false},
		// Sunday 25 October 2026: 01:15 happens twice in London.
		{"the first 01:15, BST", fallBack, utc(10, 25, 0, 15, 0), true},
		{"the second 01:15, GMT", fallBack, utc(10, 25, 1, 15, 0), true},
		{"the first 01:45, BST", fallBack, utc(10, 25, 0, 45, 0), false},
		// Sunday 8 March 2026: New York skips from 02:00 to 03:00.
		{"a minute before New York skips an hour", skipped, utc(3, 8, 6, 59, 0), false},
		{"the moment New York skips an hour", skipped, utc(3, 8, 7, 0, 0), false},
		{"the hour on the next Sunday", skipped, utc(3, 15, 6, 30, 0), true},
		{"midnight, all day", allDay, utc(3, 2, 0, 0, 0), true},
		{"a nanosecond before midnight, all day", allDay, utc(3, 2, 23, 59, 59).Add(999999999), true},
		{"unset hours", approval.Hours{}, utc(3, 2, 12, 0, 0), false},
	} {
		if got := tc.hours.Contains(tc.at); got != tc.want {
			t.Errorf("%s: (%s).Contains(%s) = %v, want %v", tc.name, tc.hours, tc.at, got, tc.want)
		}
	}
}
