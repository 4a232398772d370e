package portal

import "context"

// Person is an operator or a user as the history names them.
type Person struct {
	ID   string
	Name string
	// UPN is set for users; the history keeps operators by id and name.
	UPN string
}

// People are the two kinds of person the history filters by.
type People string

// The kinds of person.
const (
	Operators People = "operator"
	Targets   People = "target"
)

// Review is what the supervisors' review pages read beyond the records.
// Implementations return EUnavailable when the store cannot be reached.
type Review interface {
	// FindPeople returns up to limit operators or users whose name, or
	// user principal name, holds text (case-insensitively for ASCII), by
	// name; with operatorID set, only from that operator's records.
	FindPeople(ctx context.Context, kind People, text, operatorID string, limit int) ([]Person, error)
	// Count counts the records f selects (Before and Limit ignored), up
	// to max: a count of max means "max or more".
	Count(ctx context.Context, f EventFilter, max int) (int, error)
}
