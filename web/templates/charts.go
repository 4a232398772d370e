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
	return dailySeries("Actions per day", days,
		series{"bar-issued", "Issued", "issued", func(d portal.DayCount) int { return d.Issued }},
		series{"bar-refused", "Refused", "refused", func(d portal.DayCount) int { return d.Refused }},
		series{"bar-failed", "Failed", "failed", func(d portal.DayCount) int { return d.Failed }})
}

// WatchChart draws the revocations and the passes made elsewhere per day.
func WatchChart(days []portal.DayCount) Chart {
	return dailySeries("Revocations and passes made elsewhere per day", days,
		series{"bar-revoked", "Revoked", "revoked", func(d portal.DayCount) int { return d.Revoked }},
		series{"bar-elsewhere", "Made elsewhere", "made elsewhere", func(d portal.DayCount) int { return d.Elsewhere }})
}

// series is one stacked part of a daily chart.
type series struct {
	class, label, what string
	of                 func(portal.DayCount) int
}

// dailySeries stacks the series' counts per day, with each day's total
// written over its bar.
func dailySeries(title string, days []portal.DayCount, ss ...series) Chart {
	c := Chart{Title: title, Width: chartWidth, Height: dailyHeight + axisHeight}
	for _, s := range ss {
		c.Legend = append(c.Legend, LegendItem{s.class, s.label})
	}
	top := 0
	for _, d := range days {
		n := 0
		for _, s := range ss {
			n += s.of(d)
		}
		top = max(top, n)
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
		y, total := dailyHeight, 0
		for _, s := range ss {
			n := s.of(d)
			if n == 0 {
				continue
			}
			h := max(n*plot/top, 1)
			y -= h
			total += n
			c.Bars = append(c.Bars, Bar{X: x, Y: y, W: w, H: h, Class: s.class,
				Title: fmt.Sprintf("%s: %d %s", d.Day.Format("2 Jan"), n, s.what)})
		}
		if total > 0 {
			c.Bars = append(c.Bars, Bar{Value: fmt.Sprint(total), ValueX: x + w/2, ValueY: y - 4, Centered: true})
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
