package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// benchLine is one result line of `go test -bench` with its metrics.
var benchLine = regexp.MustCompile(`^BenchmarkHistory/(\w+)/([\w-]+)-\d+\s+\d+\s+(.*)$`)

// historyRows runs the store's history benchmarks on a million records
// (SQLite always, PostgreSQL when PORTAL_TEST_POSTGRES_DSN names one) and
// adds the slowest page's p95 and the export rate of each database.
func historyRows(t *table) error {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkHistory$/^(sqlite|postgres)$/^(first-page|deep-page|date-range|export)$", "./internal/store")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("the history benchmarks: %v\n%s", err, out)
	}
	p95 := map[string]float64{}
	export, first := map[string]float64{}, map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		metrics := strings.Fields(m[3])
		for i := 0; i+1 < len(metrics); i += 2 {
			v, err := strconv.ParseFloat(metrics[i], 64)
			if err != nil {
				continue
			}
			switch unit := metrics[i+1]; {
			case unit == "p95-ms" && v > p95[m[1]]:
				p95[m[1]] = v
			case unit == "records/s" && m[2] == "export":
				export[m[1]] = v
			case unit == "first-records/s" && m[2] == "export":
				first[m[1]] = v
			}
		}
	}
	for _, db := range []string{"sqlite", "postgres"} {
		if _, ok := export[db]; !ok {
			t.add("history on 1M records, "+db, "not measured (PORTAL_TEST_POSTGRES_DSN unset?)", "")
			continue
		}
		t.add("history page p95 on 1M records, "+db, fmt.Sprintf("%.1f ms (slowest of first, deep and date-range pages)", p95[db]), "under 20 ms")
		t.add("CSV export on 1M records, "+db, fmt.Sprintf("%.0f records/s (the first after opening: %.0f)", export[db], first[db]), "over 200,000")
	}
	return nil
}
