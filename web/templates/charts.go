package templates

import (
	"fmt"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// Chart geometry. The charts are drawn on the server as SVG: no chart
// script runs in the browser, and they print and read the same everywhere.
const (
	chartWidth   = 720
	dailyHeight  = 240
	axisHeight   = 28
	hbarWidth    = 480
	hbarRow      = 28
	hbarLabelW   = 170
	hbarValueW   = 40
	topPadding   = 12
	barGap       = 2
	maxLabelRune = 24
)

// DailyChart stacks issued, refused and failed actions per day.
func DailyChart(days []portal.DayCount) Chart {
	c := Chart{Title: "Actions per day", Width: chartWidth, Height: dailyHeight + axisHeight,
		Legend: []LegendItem{{"bar-issued", "Issued"}, {"bar-refused", "Refused"}, {"bar-failed", "Failed"}}}
	top := 0
	for _, d := range days {
		top = max(top, d.Issued+d.Refused+d.Failed)
	}
	if top == 0 {
		c.Empty = true
		return c
	}
	slot := chartWidth / len(days)
	w := max(slot-barGap, 1)
	plot := dailyHeight - topPadding
	labelEvery := max(1, (len(days)+9)/10)
	for i, d := range days {
		x := i * slot
		y := dailyHeight
		for _, seg := range []struct {
			n     int
			class string
			what  string
		}{{d.Issued, "bar-issued", "issued"}, {d.Refused, "bar-refused", "refused"}, {d.Failed, "bar-failed", "failed"}} {
			if seg.n == 0 {
				continue
			}
			h := max(seg.n*plot/top, 1)
			y -= h
			c.Bars = append(c.Bars, Bar{X: x, Y: y, W: w, H: h, Class: seg.class,
				Title: fmt.Sprintf("%s: %d %s", d.Day.Format("2 Jan"), seg.n, seg.what)})
		}
		if i%labelEvery == 0 {
			c.Bars = append(c.Bars, Bar{Label: d.Day.Format("2 Jan"), LabelX: x + w/2, LabelY: dailyHeight + 18})
		}
	}
	return c
}

// HBarChart draws one horizontal bar per count, largest first.
func HBarChart(title, class string, counts []portal.Count) Chart {
	c := Chart{Title: title, Width: hbarWidth, Height: max(len(counts), 1)*hbarRow + topPadding}
	top := 0
	for _, n := range counts {
		top = max(top, n.N)
	}
	if top == 0 {
		c.Empty = true
		return c
	}
	plot := hbarWidth - hbarLabelW - hbarValueW
	for i, n := range counts {
		y := topPadding + i*hbarRow
		w := max(n.N*plot/top, 1)
		c.Bars = append(c.Bars, Bar{
			X: hbarLabelW, Y: y, W: w, H: hbarRow - 8, Class: class,
			Label: shorten(n.Label), LabelX: hbarLabelW - 8, LabelY: y + hbarRow/2,
			Title: fmt.Sprintf("%s: %d", n.Label, n.N),
			Value: fmt.Sprint(n.N), ValueX: hbarLabelW + w + 6, ValueY: y + hbarRow/2,
		})
	}
	return c
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxLabelRune {
		return string(r[:maxLabelRune-1]) + "…"
	}
	return s
}

func viewBox(c Chart) string { return fmt.Sprintf("0 0 %d %d", c.Width, c.Height) }
