package e2e

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

// Journey: an operator downloads the demo's sample cohort, uploads it,
// reads the preview's verdicts, confirms, watches the progress, and gets
// the passcodes once: on the page, and as a file the page builds, once.
func TestJourneyCohort(t *testing.T) {
	t.Parallel()
	j := newJourney(t, "cohort", portalOptions{Env: map[string]string{"PORTAL_APPROVAL_BULK_ROWS_OVER": "off"}})
	b := j.newBrowser()
	b.signInAsOperator()

	if status := b.open("/bulk"); status != http.StatusOK {
		t.Fatalf("the cohort page answered %d", status)
	}
	b.wantHeading("Cohorts")
	b.keyPage("upload")
	name, sample := b.download("#sample-link")
	if name != "demo-cohort.csv" || !bytes.HasPrefix(sample, []byte("user,start,lifetime_minutes")) {
		t.Fatalf("the sample download is %q: %q", name, sample)
	}
	file := filepath.Join(t.TempDir(), "january.csv")
	if err := os.WriteFile(file, sample, 0o600); err != nil {
		t.Fatal(err)
	}
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	if status := b.click(`button[type=submit].btn-primary`); status != http.StatusOK {
		t.Fatalf("the upload answered %d", status)
	}
	b.wantHeading("Cohort january.csv")
	b.wantText("7 rows eligible, 6 left out.", "Nothing has been issued yet.")
	if n := evaluate[int](b, `document.querySelectorAll('#rows tr[data-state="ineligible"]').length`); n != 6 {
		t.Errorf("%d rows marked left out, want 6", n)
	}
	b.keyPage("preview")

	// Graph answers slowly, so the run takes a few polls of its progress.
	remove := j.portal.demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/$batch", Latency: 1500 * time.Millisecond})
	if status := b.click("#confirm-run"); status != http.StatusOK {
		t.Fatalf("confirming answered %d", status)
	}
	b.waitVisible(`#progress[hx-trigger]`)
	b.wantText("rows done")
	b.screenshot("progress")
	// The page reloads itself when the run ends.
	b.waitUntil("the run to end", `document.querySelector('#show-passcodes') !== null`)
	remove()
	b.wantText("Finished", "7 passcodes waiting.")
	if n := evaluate[int](b, `document.querySelectorAll('#rows tr[data-state="issued"]').length`); n != 7 {
		t.Errorf("%d rows issued, want 7", n)
	}
	runPath := b.path()

	if status := b.click("#show-passcodes"); status != http.StatusOK {
		t.Fatalf("the passcodes page answered %d", status)
	}
	b.wantHeading("Passcodes of january.csv")
	codes := evaluate[[]string](b, `Array.from(document.querySelectorAll('#passcodes .passcode-cell')).map(function (td) { return td.textContent.trim(); })`)
	if len(codes) != 7 {
		t.Fatalf("%d passcodes shown, want 7", len(codes))
	}
	b.keyPage("passcodes")
	got, content := b.download("#download-passcodes")
	if got != "passcodes-"+strings.TrimPrefix(runPath, "/bulk/")+".csv" {
		t.Errorf("the file is named %q", got)
	}
	records, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
	if err != nil || len(records) != 8 || strings.Join(records[0], ",") != "line,user,passcode,valid_from,expires" {
		t.Fatalf("the downloaded file: %v, %q", err, content)
	}
	for i, code := range codes {
		if records[i+1][2] != code {
			t.Errorf("row %d of the file has passcode %q, the page %q", i+1, records[i+1][2], code)
		}
	}
	if !evaluate[bool](b, `document.querySelector('#download-passcodes').disabled`) {
		t.Errorf("the download button still works after one download")
	}

	// Once: the run's page, reloaded, shows none of them and offers none.
	if status := b.open(runPath); status != http.StatusOK {
		t.Fatalf("the run page answered %d", status)
	}
	if b.exists("#show-passcodes") {
		t.Errorf("the run page still offers the passcodes after they were shown")
	}
	for _, code := range codes {
		b.wantNoPasscode(code)
	}
	b.checkClean("cohort")
}
