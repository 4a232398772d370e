package portal

import (
	"fmt"
	"slices"
)

// Policy is the tenant's Temporary Access Pass policy.
type Policy struct {
	Enabled                bool
	DefaultLifetimeMinutes int
	MinLifetimeMinutes     int
	MaxLifetimeMinutes     int
	DefaultLength          int
	// OneTimeForced is true when every pass must be one-time.
	OneTimeForced bool
	Include       []PolicyTarget
	Exclude       []PolicyTarget
}

// PolicyTarget is a group the policy includes or excludes; ID "all_users"
// means everyone.
type PolicyTarget struct {
	ID string
}

// AllUsers is the target id that means every user.
const AllUsers = "all_users"

// LifetimeChoices returns lifetimes an operator can pick, in minutes, all
// inside the policy's bounds and including its default.
func (p Policy) LifetimeChoices() []int {
	steps := []int{10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 10080, 20160, 43200}
	var out []int
	seen := map[int]bool{}
	add := func(m int) {
		if m >= p.MinLifetimeMinutes && m <= p.MaxLifetimeMinutes && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	add(p.MinLifetimeMinutes)
	for _, s := range steps {
		add(s)
	}
	add(p.DefaultLifetimeMinutes)
	add(p.MaxLifetimeMinutes)
	slices.Sort(out)
	return out
}

// CheckLifetime returns an EPolicy error naming the bound a lifetime
// breaks, or nil.
func (p Policy) CheckLifetime(minutes int) error {
	switch {
	case minutes < p.MinLifetimeMinutes:
		return Errorf(EPolicy, "The lifetime of %s is below the tenant policy's minimum of %s.", FormatMinutes(minutes), FormatMinutes(p.MinLifetimeMinutes))
	case minutes > p.MaxLifetimeMinutes:
		return Errorf(EPolicy, "The lifetime of %s is above the tenant policy's maximum of %s.", FormatMinutes(minutes), FormatMinutes(p.MaxLifetimeMinutes))
	}
	return nil
}

// FormatMinutes renders a lifetime for people: "45 minutes", "8 hours",
// "1 day 2 hours".
func FormatMinutes(m int) string {
	if m < 0 {
		return fmt.Sprintf("%d minutes", m)
	}
	d, h, min := m/1440, m%1440/60, m%60
	var parts []string
	unit := func(n int, one, many string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	unit(d, "day", "days")
	unit(h, "hour", "hours")
	unit(min, "minute", "minutes")
	if len(parts) == 0 {
		return "0 minutes"
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += " " + p
	}
	return out
}
