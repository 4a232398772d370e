package approval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// The bounds of the settings.
const (
	// MaxLifetimeOver is the longest pass Entra ID issues (30 days): a
	// limit above it would never apply.
	MaxLifetimeOver = 30 * 24 * time.Hour
	// MaxBulkRowsOver is the most rows a cohort file may hold.
	MaxBulkRowsOver = 10000
	// DefaultTTL is how long a request waits for a decision unless set.
	DefaultTTL = 8 * time.Hour
	// MinTTL and MaxTTL bound how long a request may wait: long enough
	// for someone to see it, short enough that what it was decided on
	// still holds.
	MinTTL = 5 * time.Minute
	MaxTTL = 7 * 24 * time.Hour
)

// invalid is a setting refused, in words for the platform admin.
func invalid(format string, args ...any) error {
	return portal.Errorf(portal.EInvalid, format, args...)
}

// ParseGroupIDs reads comma-separated group object ids (GUIDs), spaces
// around them allowed, and returns them in lower case without repeats;
// "" means none. Errors are EInvalid and say what is wrong and what is
// expected.
func ParseGroupIDs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for n, id := range strings.Split(s, ",") {
		id = strings.ToLower(strings.TrimSpace(id))
		switch {
		case id == "":
			return nil, invalid("The group ids %q have an empty entry (number %d): want object ids separated by single commas.", s, n+1)
		case !portal.IsObjectID(id):
			return nil, invalid("The group ids hold %q, which is not an object id: want comma-separated GUIDs such as 0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90.", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// ParseLifetimeOver reads the longest lifetime a pass may have without
// approval, as a duration in whole minutes (90m, 8h, 72h), and returns it
// in minutes; "", "0" and "off" turn the rule off (0). Errors are EInvalid
// and say what is wrong and what is expected.
func ParseLifetimeOver(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || strings.EqualFold(s, "off") {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, invalid("The lifetime %q is not a duration: want one such as 90m, 8h or 72h, or off.", s)
	case d < 0:
		return 0, invalid("The lifetime %q is negative: want a duration such as 8h, or off.", s)
	case d%time.Minute != 0:
		return 0, invalid("The lifetime %q is not a whole number of minutes: want one such as 90m or 8h.", s)
	case d > MaxLifetimeOver:
		return 0, invalid("The lifetime %q is over %s, the longest pass Entra ID issues: want at most 720h, or off.", s, portal.FormatMinutes(int(MaxLifetimeOver/time.Minute)))
	}
	return int(d / time.Minute), nil
}

// ParseMultiUse reads whether every pass that is not one-time needs
// approval: true or false (as strconv.ParseBool reads them); "" is false.
// Errors are EInvalid.
func ParseMultiUse(s string) (bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalid("The multi-use setting %q is not true or false.", s)
	}
	return b, nil
}

// ParseBulkRowsOver reads the most eligible rows a cohort run may have
// without approval, a whole number up to MaxBulkRowsOver; "", "0" and
// "off" turn the rule off (0). Errors are EInvalid and say what is wrong
// and what is expected.
func ParseBulkRowsOver(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, invalid("The row count %q is not a whole number: want one from 1 to %d, or 0 for off.", s, MaxBulkRowsOver)
	case n < 0 || n > MaxBulkRowsOver:
		return 0, invalid("The row count %d is out of range: want one from 1 to %d, or 0 for off.", n, MaxBulkRowsOver)
	}
	return n, nil
}

// ParseTTL reads how long a request waits for a decision before it
// expires, a duration from MinTTL to MaxTTL; "" is DefaultTTL. Errors are
// EInvalid and say what is wrong and what is expected.
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultTTL, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, invalid("The expiry %q is not a duration: want one such as 30m, 4h or 24h.", s)
	case d < MinTTL || d > MaxTTL:
		return 0, invalid("The expiry %q is out of range: want a duration from %s to %s.", s, shortDuration(MinTTL), shortDuration(MaxTTL))
	}
	return d, nil
}

// shortDuration writes d as a platform admin would: 5m, 168h.
func shortDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
