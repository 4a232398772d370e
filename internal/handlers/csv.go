package handlers

import (
	"encoding/csv"
	"io"
	"unicode"
)

// csvWriter writes CSV whose every cell is safe to open in a spreadsheet:
// no cell, whatever column it is in and whatever its text, is read as a
// formula. The history holds text from operators and from the directory,
// and an export is opened by people in spreadsheet tools.
type csvWriter struct {
	*csv.Writer
	cells []string
}

func newCSVWriter(w io.Writer) *csvWriter { return &csvWriter{Writer: csv.NewWriter(w)} }

// Write writes one record, every cell defused.
func (w *csvWriter) Write(record []string) error {
	w.cells = w.cells[:0]
	for _, c := range record {
		w.cells = append(w.cells, defuseCell(c))
	}
	return w.Writer.Write(w.cells)
}

// defuseCell prefixes an apostrophe to a cell a spreadsheet would evaluate:
// one whose first significant character starts a formula. Significant
// means after any whitespace and invisible format characters (a byte
// order mark, zero-width spaces and joiners, direction marks), which
// spreadsheets skip or which hide a formula from a reader. The full-width
// and small forms of the formula characters count too, as some
// spreadsheets fold them to ASCII.
func defuseCell(s string) string {
	for _, r := range s {
		switch {
		case formulaStart(r):
			return "'" + s
		case r == '\t' || r == '\r' || r == '\n':
			return "'" + s
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		return s
	}
	return s
}

// formulaStart reports whether r begins a formula in some spreadsheet.
func formulaStart(r rune) bool {
	switch r {
	case '=', '+', '-', '@',
		'\uFF1D', '\uFF0B', '\uFF0D', '\uFF20', // full-width = + - @
		'\uFE66', '\uFE62', '\uFE63', '\uFE6B', // small = + - @
		'\u2212': // minus sign
		return true
	}
	return false
}
