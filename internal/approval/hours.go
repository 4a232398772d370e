package approval

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Hours are working hours: the same span of the clock on some days of the
// week, in one time zone. They are read on the zone's wall clock, so that
// 08:00-18:00 means eight to six on the office's clocks all year, on the
// days the clocks change too. The zero Hours are unset.
type Hours struct {
	// Days holds the working days, indexed by time.Weekday.
	Days [7]bool
	// Start and End are minutes after midnight: the hours run from Start
	// up to, not including, End. End is at most 24*60.
	Start, End int
	// Zone is the office's time zone; nil when the hours are unset.
	Zone *time.Location
}

// IsZero reports whether the hours are unset.
func (h Hours) IsZero() bool { return h.Zone == nil }

// Contains reports whether t falls inside the hours: on a working day,
// at or after the start and before the end, on the zone's clock. A time
// exactly at the end is outside.
func (h Hours) Contains(t time.Time) bool {
	if h.IsZero() {
		return false
	}
	local := t.In(h.Zone)
	if !h.Days[local.Weekday()] {
		return false
	}
	clock := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	return clock >= time.Duration(h.Start)*time.Minute && clock < time.Duration(h.End)*time.Minute
}

// String writes the hours as ParseHours reads them, "Mon-Fri 08:00-18:00
// Europe/London", or "" when they are unset.
func (h Hours) String() string {
	if h.IsZero() {
		return ""
	}
	return h.window() + " " + h.Zone.String()
}

// window writes the days and times without the zone.
func (h Hours) window() string {
	return h.days() + " " + clock(h.Start) + "-" + clock(h.End)
}

// days writes the working days from Monday on, runs of three or more as
// ranges: "Mon-Fri", "Mon,Wed,Fri", "Mon,Tue,Sat".
func (h Hours) days() string {
	// The i-th day of the working week, Monday first.
	nth := func(i int) time.Weekday { return time.Weekday((i + 1) % 7) }
	var parts []string
	for i := 0; i < 7; {
		if !h.Days[nth(i)] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && h.Days[nth(j+1)] {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, dayName(nth(i))+"-"+dayName(nth(j)))
		case j > i:
			parts = append(parts, dayName(nth(i)), dayName(nth(j)))
		default:
			parts = append(parts, dayName(nth(i)))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// dayName is a day as the hours write it: Mon, Tue.
func dayName(d time.Weekday) string { return d.String()[:3] }

func clock(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

// hoursExample is what every message about hours shows.
const hoursExample = "DAYS HH:MM-HH:MM ZONE, as in Mon-Fri 08:00-18:00 Europe/London"

// clockPattern is a time of day as the hours write it, with the seconds
// the parser refuses by name.
var clockPattern = regexp.MustCompile(`^(\d{1,2}):(\d{2})(:\d{2})?$`)

// ParseHours reads working hours written as DAYS HH:MM-HH:MM ZONE:
//
//   - DAYS are days of the week by their English names or first three
//     letters, as ranges (Mon-Fri, or Sat-Mon across the weekend) and
//     lists (Mon,Wed,Fri), mixed as in Mon-Wed,Fri, each day once;
//   - the times are 24-hour, hours and minutes, the end after the start
//     (24:00 ends at midnight): hours across midnight are not supported;
//   - ZONE is an IANA time zone, such as Europe/London.
//
// "" and "off" mean no hours. Errors are EInvalid and say what is wrong
// and what is expected.
func ParseHours(s string) (Hours, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return Hours{}, nil
	}
	bad := func(format string, args ...any) (Hours, error) {
		return Hours{}, portal.Errorf(portal.EInvalid, "The working hours %q %s.", s, fmt.Sprintf(format, args...))
	}
	i := strings.LastIndexAny(s, " \t")
	if i < 0 {
		return bad("are not %s", hoursExample)
	}
	rest, zone := s[:i], s[i+1:]
	if strings.ContainsAny(zone, "0123456789") && strings.Contains(zone, ":") {
		return bad("have no time zone: want %s", hoursExample)
	}
	// Spaces inside the days and the times are let through ("Mon - Fri",
	// "Mon, Wed"): the days hold no digit, so the first digit starts the
	// times.
	rest = strings.Join(strings.Fields(rest), "")
	d := strings.IndexAny(rest, "0123456789")
	if d < 0 {
		return bad("give no times: want %s", hoursExample)
	}
	days, times := rest[:d], rest[d:]
	if days == "" {
		return bad("name no days: want %s", hoursExample)
	}
	var h Hours
	for item := range strings.SplitSeq(days, ",") {
		if item == "" {
			return bad("have an empty day in %q: want days separated by single commas, as in Mon,Wed,Fri", days)
		}
		from, to, isRange := strings.Cut(item, "-")
		first, ok := parseDay(from)
		if !ok {
			return bad("name the day %q, which is not one: want Mon, Tue, Wed, Thu, Fri, Sat or Sun, in ranges (Mon-Fri) or lists (Mon,Wed,Fri)", from)
		}
		last := first
		if isRange {
			if last, ok = parseDay(to); !ok {
				return bad("name the day %q, which is not one: want Mon, Tue, Wed, Thu, Fri, Sat or Sun, in ranges (Mon-Fri) or lists (Mon,Wed,Fri)", to)
			}
		}
		// A range runs forward through the week, past Sunday if need be:
		// Sat-Mon is Saturday, Sunday and Monday.
		for day := first; ; day = (day + 1) % 7 {
			if h.Days[day] {
				return bad("name %s twice: want each day once, as in Mon-Fri or Mon,Wed,Fri", dayName(day))
			}
			h.Days[day] = true
			if day == last {
				break
			}
		}
	}
	from, to, ok := strings.Cut(times, "-")
	if !ok || strings.Contains(to, "-") {
		return bad("give the times %q, not a start and an end: want HH:MM-HH:MM, as in 08:00-18:00", times)
	}
	var err error
	if h.Start, err = parseClock(from, false); err != nil {
		return bad("%s", err.Error())
	}
	if h.End, err = parseClock(to, true); err != nil {
		return bad("%s", err.Error())
	}
	switch {
	case h.End == h.Start:
		return bad("start and end at %s: want an end after the start, as in 08:00-18:00", clock(h.Start))
	case h.End < h.Start:
		return bad("end at %s, before they start at %s: want an end after the start on the same day, as in 08:00-18:00", clock(h.End), clock(h.Start))
	}
	// "Local" is whatever zone the machine is set to, which differs
	// between replicas.
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return bad("name the time zone %q, which is not one: want an IANA zone such as Europe/London or America/New_York", zone)
	}
	h.Zone = loc
	return h, nil
}

// parseDay reads a day by its English name or its first three letters.
func parseDay(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, dayName(d)) || strings.EqualFold(s, d.String()) {
			return d, true
		}
	}
	return 0, false
}

// parseClock reads HH:MM as minutes after midnight; 24:00 only as an end.
func parseClock(s string, end bool) (int, error) {
	m := clockPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("give the time %q, which is not a 24-hour time: want HH:MM, such as 08:00 or 17:30", s)
	}
	if m[3] != "" {
		return 0, fmt.Errorf("give the time %s with seconds: want hours and minutes only, such as %s", s, s[:len(s)-3])
	}
	hour, _ := strconv.Atoi(m[1])
	minute, _ := strconv.Atoi(m[2])
	switch {
	case end && hour == 24 && minute == 0:
	case hour > 23 || minute > 59:
		return 0, fmt.Errorf("give the time %s, which is not a time of day: want 00:00 to 23:59 (24:00 for an end at midnight)", s)
	}
	return hour*60 + minute, nil
}
