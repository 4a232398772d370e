// Package bulk reads an onboarding cohort from a CSV file and runs it: one
// guarded issue per row, through Graph's $batch, resumable and exactly
// once per row.
package bulk

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// The columns of a cohort file. user and reason are required; the others
// may be left out or empty.
const (
	ColUser     = "user"
	ColStart    = "start"
	ColLifetime = "lifetime_minutes"
	ColOneTime  = "one_time"
	ColReason   = "reason"
	ColTicket   = "ticket"
)

// Columns lists the columns in the template's order.
var Columns = []string{ColUser, ColStart, ColLifetime, ColOneTime, ColReason, ColTicket}

// Template is the downloadable example of a cohort file.
const Template = "user,start,lifetime_minutes,one_time,reason,ticket\r\n" +
	"new.hire@contoso.example,2027-01-04 08:30 America/New_York,480,no,First day: set up Authenticator,HR-1042\r\n" +
	"a1000000-0000-4000-8000-000000000000,2027-01-04T09:00:00+01:00,,yes,First day,HR-1043\r\n"

// Limits bound what a cohort file may hold.
type Limits struct {
	MaxBytes int64
	MaxRows  int
}

// Row is one line of a cohort file, read and checked.
type Row struct {
	// Line is the row's line number in the file (the header is line 1).
	Line int
	// Target is the user's UPN or object id, as written.
	Target  string
	Request issuance.IssueRequest
}

// LineError says what is wrong on one line of the file.
type LineError struct {
	Line    int
	Column  string // "" for the whole line
	Message string
}

func (e LineError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Message)
}

// ErrTooLarge is returned for a file over Limits.MaxBytes.
var ErrTooLarge = errors.New("file too large")

// Parse reads a cohort file and checks every row against the issue form's
// rules and the tenant policy p at now. It returns the good rows and a
// line-numbered error for each bad one; a file that cannot be read as a
// cohort at all (too large, no header, unknown columns, too many rows) is
// an error of its own, with no rows.
func Parse(r io.Reader, lim Limits, p portal.Policy, now time.Time) ([]Row, []LineError, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, nil, fmt.Errorf("%w: the file is over %s; split the cohort into several files", ErrTooLarge, size(lim.MaxBytes))
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, nil, errors.New("the file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = delimiter(data)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("the file is empty: it needs a header line naming the columns, then a line per user")
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	cols, err := columns(header)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	var bad []LineError
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(rows)+len(bad) >= lim.MaxRows {
			return nil, nil, fmt.Errorf("the file holds more than %d users; split the cohort into several files", lim.MaxRows)
		}
		row, errs := parseRow(line, rec, cols, p, now)
		if len(errs) == 0 {
			key := strings.ToLower(row.Target)
			if first, dup := seen[key]; dup {
				errs = append(errs, LineError{Line: line, Column: ColUser, Message: fmt.Sprintf("%s is also on line %d: one pass per user in a run.", row.Target, first)})
			} else {
				seen[key] = line
			}
		}
		if len(errs) > 0 {
			bad = append(bad, errs...)
			continue
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 && len(bad) == 0 {
		return nil, nil, errors.New("the file has a header but no users")
	}
	return rows, bad, nil
}

// delimiter is the file's separator: a comma, or the semicolon some
// spreadsheets write where the comma is the decimal mark.
func delimiter(data []byte) rune {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		return ';'
	}
	return ','
}

// columns maps each known column to its index in the header.
func columns(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(Columns, name) {
			return nil, fmt.Errorf("line 1: unknown column %q; the columns are %s", h, strings.Join(Columns, ", "))
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("line 1: the column %s is named twice", name)
		}
		cols[name] = i
	}
	for _, need := range []string{ColUser, ColReason} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("line 1: the header has no %s column; the columns are %s", need, strings.Join(Columns, ", "))
		}
	}
	return cols, nil
}

// parseRow reads one record.
func parseRow(line int, rec []string, cols map[string]int, p portal.Policy, now time.Time) (Row, []LineError) {
	get := func(col string) string {
		i, ok := cols[col]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var errs []LineError
	add := func(col, msg string) { errs = append(errs, LineError{Line: line, Column: col, Message: msg}) }
	if len(rec) > len(cols) {
		add("", fmt.Sprintf("%d values for %d columns: quote a value that holds the separator.", len(rec), len(cols)))
		return Row{}, errs
	}
	row := Row{Line: line, Target: get(ColUser)}
	switch {
	case row.Target == "":
		add(ColUser, "The user is required: a UPN such as new.hire@contoso.example, or an object id.")
	case !portal.IsObjectID(row.Target) && !looksLikeUPN(row.Target):
		add(ColUser, fmt.Sprintf("%q is neither a UPN (name@domain) nor an object id.", row.Target))
	}
	req := &row.Request
	req.Reason, req.Ticket = get(ColReason), get(ColTicket)
	if v := get(ColStart); v != "" {
		start, err := ParseStart(v)
		if err != nil {
			add(ColStart, portal.ErrorMessage(err))
		}
		req.Start = start
	}
	req.LifetimeMinutes = p.DefaultLifetimeMinutes
	if v := get(ColLifetime); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			add(ColLifetime, fmt.Sprintf("%q is not a number of minutes.", v))
		}
		req.LifetimeMinutes = n
	}
	switch v := strings.ToLower(get(ColOneTime)); v {
	case "", "no", "false", "0", "n":
	case "yes", "true", "1", "y":
		req.OneTime = true
	default:
		add(ColOneTime, fmt.Sprintf("%q is not yes or no.", get(ColOneTime)))
	}
	fe := req.Validate(p, now)
	for _, col := range []struct{ field, column string }{{"reason", ColReason}, {"ticket", ColTicket}, {"lifetime", ColLifetime}, {"start", ColStart}, {"one_time", ColOneTime}} {
		if msg, bad := fe[col.field]; bad && !slices.ContainsFunc(errs, func(e LineError) bool { return e.Column == col.column }) {
			add(col.column, msg)
		}
	}
	return row, errs
}

// startLayouts are the forms a start may take besides RFC 3339: a date
// and time followed by an IANA zone.
var startLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05"}

// ParseStart reads a start with its zone: RFC 3339 with an offset
// (2027-01-04T08:30:00-05:00), or a date and time followed by an IANA zone
// name (2027-01-04 08:30 America/New_York). A time with no zone is
// refused: a cohort spans offices, and the portal must not guess.
func ParseStart(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	i := strings.LastIndexByte(v, ' ')
	if i < 0 {
		return time.Time{}, invalid("%q is not a date and time with a zone, such as 2027-01-04 08:30 America/New_York or 2027-01-04T08:30:00-05:00.", v)
	}
	local, zone := strings.TrimSpace(v[:i]), v[i+1:]
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" || zone == "" {
		for _, layout := range startLayouts {
			if _, err := time.Parse(layout, v); err == nil {
				return time.Time{}, invalid("%q has no zone: add one, such as %s America/New_York.", v, v)
			}
		}
		return time.Time{}, invalid("%q does not end in a known time zone such as America/New_York or Europe/Paris.", v)
	}
	for _, layout := range startLayouts {
		if t, err := time.ParseInLocation(layout, local, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalid("%q is not a date and time such as 2027-01-04 08:30 before its zone.", local)
}

// invalid is a refusal of bad input, worded for the operator.
func invalid(format string, args ...any) error {
	return &portal.Error{Code: portal.EInvalid, Message: fmt.Sprintf(format, args...)}
}

// looksLikeUPN reports whether s has the shape of a user principal name.
func looksLikeUPN(s string) bool {
	name, domain, ok := strings.Cut(s, "@")
	return ok && name != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " ,;<>\"") && !strings.Contains(domain, "@")
}

// blank reports whether a record holds nothing: a spreadsheet's empty row.
func blank(rec []string) bool {
	return !slices.ContainsFunc(rec, func(v string) bool { return strings.TrimSpace(v) != "" })
}

// csvError words a CSV syntax error with its line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %s", pe.Line, pe.Err)
	}
	return err
}

// size words a byte count.
func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
