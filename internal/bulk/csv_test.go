package bulk

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

var (
	testNow    = time.Date(2026, 12, 28, 15, 0, 0, 0, time.UTC)
	testPolicy = portal.Policy{Enabled: true, DefaultLifetimeMinutes: 60, MinLifetimeMinutes: 60, MaxLifetimeMinutes: 480}
	testLimits = Limits{MaxBytes: 64 << 10, MaxRows: 5}
)

func TestParseGoodFile(t *testing.T) {
	file := "\uFEFFUser;Reason;Start;lifetime_minutes;one_time;ticket\r\n" +
		"amara.okafor@northwind.example;First day;2027-01-04 08:30 America/New_York;480;yes;HR-1\r\n" +
		";;;;;\r\n" +
		"A1000000-0000-4000-8000-000000000019;\"Lost phone; new one\";2027-01-04T09:00:00+01:00;;;\r\n" +
		"tomas.herrera@northwind.example;Start;;;no;\r\n"
	rows, bad, err := Parse(strings.NewReader(file), testLimits, testPolicy, testNow)
	if err != nil || len(bad) != 0 || len(rows) != 3 {
		t.Fatalf("Parse = %d rows, %v, %v", len(rows), bad, err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	first := rows[0]
	if first.Line != 2 || first.Target != "amara.okafor@northwind.example" || !first.Request.Start.Equal(time.Date(2027, 1, 4, 8, 30, 0, 0, ny)) ||
		first.Request.LifetimeMinutes != 480 || !first.Request.OneTime || first.Request.Ticket != "HR-1" {
		t.Errorf("row 1 = %+v", first)
	}
	second := rows[1]
	if second.Line != 4 || second.Request.Reason != "Lost phone; new one" || !second.Request.Start.Equal(time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)) ||
		second.Request.LifetimeMinutes != 60 || second.Request.OneTime {
		t.Errorf("row 2 = %+v; want the quoted reason, the policy's default lifetime", second)
	}
	if third := rows[2]; third.Line != 5 || !third.Request.Start.IsZero() {
		t.Errorf("row 3 = %+v; want start now", third)
	}
}

func TestParseTemplate(t *testing.T) {
	rows, bad, err := Parse(strings.NewReader(Template), testLimits, testPolicy, testNow)
	if err != nil || len(bad) != 0 || len(rows) != 2 {
		t.Fatalf("the template: %d rows, %v, %v", len(rows), bad, err)
	}
}

// TestParseBadRows: each bad row gets a line-numbered message naming the
// column, and the good rows still come through.
func TestParseBadRows(t *testing.T) {
	file := "user,start,lifetime_minutes,one_time,reason,ticket\n" +
		"ok@northwind.example,,,,Fine,\n" +
		"not a user,,,,Fine,\n" +
		"b@northwind.example,2027-01-04 08:30,,,Fine,\n" +
		"c@northwind.example,2027-01-04 08:30 Mars/Olympus,,,Fine,\n" +
		"d@northwind.example,2026-12-01T08:00:00Z,,,Fine,\n" +
		"e@northwind.example,,ten,,Fine,\n" +
		"f@northwind.example,,600,,Fine,\n" +
		"g@northwind.example,,,maybe,Fine,\n" +
		"h@northwind.example,,,,,\n" +
		"i@northwind.example,,,,<b>bold</b>,INC 1;2\n" +
		"OK@northwind.example,,,,Again,\n" +
		"j@northwind.example,,,,Fine,,extra\n"
	rows, bad, err := Parse(strings.NewReader(file), Limits{MaxBytes: 64 << 10, MaxRows: 100}, testPolicy, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Line != 2 {
		t.Fatalf("good rows = %+v, want line 2 only", rows)
	}
	want := []struct {
		line      int
		column    string
		substring string
	}{
		{3, ColUser, "neither a UPN"},
		{4, ColStart, "has no zone"},
		{5, ColStart, "known time zone"},
		{6, ColStart, "in the past"},
		{7, ColLifetime, "not a number of minutes"},
		{8, ColLifetime, "above the tenant policy's maximum"},
		{9, ColOneTime, "not yes or no"},
		{10, ColReason, "required"},
		{11, ColReason, "plain text"},
		{11, ColTicket, "letters, digits"},
		{12, ColUser, "also on line 2"},
		{13, "", "7 values for 6 columns"},
	}
	if len(bad) != len(want) {
		t.Fatalf("errors = %v, want %d", bad, len(want))
	}
	for i, w := range want {
		if e := bad[i]; e.Line != w.line || e.Column != w.column || !strings.Contains(e.Message, w.substring) {
			t.Errorf("error %d = %v, want line %d, %s: …%s…", i, e, w.line, w.column, w.substring)
		}
	}
}

// TestParseBadFiles: a file that is not a cohort is refused whole.
func TestParseBadFiles(t *testing.T) {
	for _, tt := range []struct {
		name, file, want string
	}{
		{"empty", "", "the file is empty"},
		{"header only", "user,reason\n", "no users"},
		{"unknown column", "user,reason,manager\n", `unknown column "manager"`},
		{"column twice", "user,reason,User\n", "named twice"},
		{"no reason column", "user,ticket\na@b.example,HR-1\n", "no reason column"},
		{"broken quote", "user,reason\na@b.example,\"open\n", "line 2"},
		{"not UTF-8", "user,reason\na@b.example,caf\xe9\n", "not UTF-8"},
		{"too many rows", "user,reason\n" + strings.Repeat("a@b.example,x\n", 6), "more than 5 users"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, bad, err := Parse(strings.NewReader(tt.file), testLimits, testPolicy, testNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) || rows != nil || bad != nil {
				t.Fatalf("Parse = %v, %v, %v; want an error containing %q and nothing else", rows, bad, err, tt.want)
			}
		})
	}
	big := "user,reason\n" + strings.Repeat("someone@northwind.example,a reason long enough\n", 2000)
	if _, _, err := Parse(strings.NewReader(big), testLimits, testPolicy, testNow); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("a large file: %v, want ErrTooLarge naming 64 KiB", err)
	}
}
