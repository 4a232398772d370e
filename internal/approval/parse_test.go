package approval_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

// refused checks that err is EInvalid with message want.
func refused(t *testing.T, call string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = no error, want %s", call, want)
		return
	}
	if got := portal.ErrorMessage(err); got != want || portal.ErrorCode(err) != portal.EInvalid {
		t.Errorf("%s = %s (%s), want %s (invalid)", call, got, portal.ErrorCode(err), want)
	}
}

func TestParseGroupIDs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: finance, want: []string{finance}},
		{in: " 0F6A9C1E-2B1D-4C8E-9A43-5D2F1E7B8C90 , " + payroll, want: []string{finance, payroll}},
		{in: finance + "," + payroll + "," + finance, want: []string{finance, payroll}},
		{in: finance + ",,", wantErr: `The group ids "` + finance + `,," have an empty entry (number 2): want object ids separated by single commas.`},
		{in: "Finance", wantErr: `The group ids hold "finance", which is not an object id: want comma-separated GUIDs such as 0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90.`},
		{in: finance + ";" + payroll, wantErr: `The group ids hold "` + finance + ";" + payroll + `", which is not an object id: want comma-separated GUIDs such as 0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90.`},
		{in: "{" + finance + "}", wantErr: `The group ids hold "{` + finance + `}", which is not an object id: want comma-separated GUIDs such as 0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90.`},
	} {
		got, err := approval.ParseGroupIDs(tc.in)
		call := "ParseGroupIDs(" + tc.in + ")"
		if tc.wantErr != "" {
			refused(t, call, err, tc.wantErr)
			continue
		}
		if err != nil {
			t.Errorf("%s = %v", call, err)
		} else if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", call, diff)
		}
	}
}

func TestParseLifetimeOver(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr string
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "off", want: 0},
		{in: "0s", want: 0},
		{in: "90m", want: 90},
		{in: " 8h ", want: 480},
		{in: "1h30m", want: 90},
		{in: "720h", want: 43200},
		{in: "2 hours", wantErr: `The lifetime "2 hours" is not a duration: want one such as 90m, 8h or 72h, or off.`},
		{in: "120", wantErr: `The lifetime "120" is not a duration: want one such as 90m, 8h or 72h, or off.`},
		{in: "1d", wantErr: `The lifetime "1d" is not a duration: want one such as 90m, 8h or 72h, or off.`},
		{in: "90s", wantErr: `The lifetime "90s" is not a whole number of minutes: want one such as 90m or 8h.`},
		{in: "-1h", wantErr: `The lifetime "-1h" is negative: want a duration such as 8h, or off.`},
		{in: "721h", wantErr: `The lifetime "721h" is over 30 days, the longest pass Entra ID issues: want at most 720h, or off.`},
	} {
		got, err := approval.ParseLifetimeOver(tc.in)
		call := "ParseLifetimeOver(" + tc.in + ")"
		if tc.wantErr != "" {
			refused(t, call, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %d, %v, want %d", call, got, err, tc.want)
		}
	}
}

func TestParseMultiUse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    bool
		wantErr string
	}{
		{in: "", want: false},
		{in: "false", want: false},
		{in: "true", want: true},
		{in: " TRUE ", want: true},
		{in: "1", want: true},
		{in: "yes", wantErr: `The multi-use setting "yes" is not true or false.`},
		{in: "on", wantErr: `The multi-use setting "on" is not true or false.`},
	} {
		got, err := approval.ParseMultiUse(tc.in)
		call := "ParseMultiUse(" + tc.in + ")"
		if tc.wantErr != "" {
			refused(t, call, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v, want %v", call, got, err, tc.want)
		}
	}
}

func TestParseBulkRowsOver(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr string
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "off", want: 0},
		{in: "100", want: 100},
		{in: " 10000 ", want: 10000},
		{in: "ten", wantErr: `The row count "ten" is not a whole number: want one from 1 to 10000, or 0 for off.`},
		{in: "1.5", wantErr: `The row count "1.5" is not a whole number: want one from 1 to 10000, or 0 for off.`},
		{in: "-1", wantErr: `The row count -1 is out of range: want one from 1 to 10000, or 0 for off.`},
		{in: "10001", wantErr: `The row count 10001 is out of range: want one from 1 to 10000, or 0 for off.`},
	} {
		got, err := approval.ParseBulkRowsOver(tc.in)
		call := "ParseBulkRowsOver(" + tc.in + ")"
		if tc.wantErr != "" {
			refused(t, call, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %d, %v, want %d", call, got, err, tc.want)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "", want: approval.DefaultTTL},
		{in: "5m", want: 5 * time.Minute},
		{in: "4h", want: 4 * time.Hour},
		{in: "168h", want: 168 * time.Hour},
		{in: "off", wantErr: `The expiry "off" is not a duration: want one such as 30m, 4h or 24h.`},
		{in: "2d", wantErr: `The expiry "2d" is not a duration: want one such as 30m, 4h or 24h.`},
		{in: "4m59s", wantErr: `The expiry "4m59s" is out of range: want a duration from 5m to 168h.`},
		{in: "169h", wantErr: `The expiry "169h" is out of range: want a duration from 5m to 168h.`},
	} {
		got, err := approval.ParseTTL(tc.in)
		call := "ParseTTL(" + tc.in + ")"
		if tc.wantErr != "" {
			refused(t, call, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %s, %v, want %s", call, got, err, tc.want)
		}
	}
}
