// Package query builds the query forms the portal's user search sends to
// Microsoft Graph, from what an operator typed. It is apart from the Graph
// client so that the proof that typed input cannot change a query (a fuzz
// target of the emulator) needs no SDK.
package query

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tapportal/portal/internal/portal"
)

// Literal quotes s as an OData string literal: quotes are doubled, so
// user input can never end the literal and change the expression.
func Literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// MaxSearchLength bounds a search term, in characters. Longer terms match
// nobody real and would make Graph's URL too long.
const MaxSearchLength = 120

// CleanSearch validates a search term and returns it trimmed.
func CleanSearch(q string) (string, error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return "", &portal.Error{Code: portal.EInvalid, Field: "q", Message: "Type a name, user principal name, email address, employee id or object id."}
	case !utf8.ValidString(q):
		return "", &portal.Error{Code: portal.EInvalid, Field: "q", Message: "The search term is not valid text."}
	case utf8.RuneCountInString(q) > MaxSearchLength:
		return "", &portal.Error{Code: portal.EInvalid, Field: "q", Message: fmt.Sprintf("The search term is too long: at most %d characters.", MaxSearchLength)}
	case strings.IndexFunc(q, unicode.IsControl) >= 0:
		return "", &portal.Error{Code: portal.EInvalid, Field: "q", Message: "The search term contains control characters."}
	}
	return q, nil
}

// The ways a search reaches Graph. A term that is an object id is looked
// up by id. Any other term is a word search ($search), which matches any
// word of the names in any case, with an exact employee-id match beside
// it; where Graph refuses $search, or the term has no word to search for,
// a prefix filter over the names and the employee id stands in.

// objectID matches a directory object id.
var objectID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// SearchFilter is the prefix filter: the start of the display name, given
// name, surname, user principal name or mail, or the exact employee id.
func SearchFilter(q string) string {
	lit := Literal(q)
	return fmt.Sprintf("startswith(displayName,%[1]s) or startswith(givenName,%[1]s) or startswith(surname,%[1]s) or "+
		"startswith(userPrincipalName,%[1]s) or startswith(mail,%[1]s) or employeeId eq %[1]s", lit)
}

// IDFilter is an exact lookup by an id: property eq the quoted q.
func IDFilter(property, q string) string { return property + " eq " + Literal(q) }

// SearchExpr is the $search value of a word search on the display name,
// user principal name and mail. Inside a quoted clause a backslash
// escapes the next character, so a quote typed in the term stays in it.
func SearchExpr(q string) string {
	v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(q)
	return fmt.Sprintf(`"displayName:%[1]s" OR "userPrincipalName:%[1]s" OR "mail:%[1]s"`, v)
}

// HasWord reports whether q has a letter or digit: Graph's $search finds
// nothing to search for in a term of symbols alone and refuses it.
func HasWord(q string) bool {
	return strings.IndexFunc(q, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// IsObjectID reports whether q is a directory object id.
func IsObjectID(q string) bool { return objectID.MatchString(q) }
