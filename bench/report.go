package bench

import (
	"fmt"
	"math"
	"strings"
)

// A Row is one figure measured of both daemons under the same settings.
type Row struct {
	// Section is the heading of the table the row is listed in.
	Section string
	// Name says what was measured and with which settings; Unit is the
	// unit of every number of the row ("ms", "%", "MiB").
	Name, Unit string
	// Bound is what the protocol allows (Master_Down_Interval, Skew_Time),
	// 0 for none.
	Bound float64
	// Vipd and Keepalived summarise the runs of each daemon.
	Vipd, Keepalived Summary
	// NA says why keepalived was not measured, shown in its place.
	NA string
	// Target is what vipd should achieve, "" for none; Met whether it did.
	Target string
	Met    bool
}

// Ratio returns vipd's median divided by keepalived's, and false when
// either is missing or keepalived's is 0.
func (r Row) Ratio() (float64, bool) {
	if !r.Vipd.Measured() || !r.Keepalived.Measured() || r.Keepalived.Median == 0 {
		return 0, false
	}
	return r.Vipd.Median / r.Keepalived.Median, true
}

// A Report is the result of a benchmark run: an introduction (date,
// machine, versions, command), the rows grouped by section, each section
// with a paragraph saying what it measures, a list of the targets met and
// missed, and notes.
type Report struct {
	Title string
	Intro []string
	Rows  []Row
	About map[string]string // by section
	Notes []string
}

// Markdown renders the report: one table per section, in the order the
// sections first appear in Rows.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	for _, p := range r.Intro {
		b.WriteString(p + "\n\n")
	}
	var sections []string
	bySection := make(map[string][]Row)
	for _, row := range r.Rows {
		if _, ok := bySection[row.Section]; !ok {
			sections = append(sections, row.Section)
		}
		bySection[row.Section] = append(bySection[row.Section], row)
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "## %s\n\n", s)
		if about := r.About[s]; about != "" {
			b.WriteString(about + "\n\n")
		}
		b.WriteString("| Figure | Bound | vipd median (min–max) | keepalived median (min–max) | over bound vipd / keepalived | vipd / keepalived | Target |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|---|\n")
		for _, row := range bySection[s] {
			ka := cell(row.Keepalived)
			if row.NA != "" {
				ka = "n/a: " + row.NA
			}
			ratio := "—"
			if q, ok := row.Ratio(); ok {
				ratio = fmt.Sprintf("%.2f", q)
			}
			fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s | %s | %s |\n",
				row.Name, row.Unit, bound(row.Bound), cell(row.Vipd), ka, overBound(row), ratio, verdict(row))
		}
		b.WriteString("\n")
	}
	var met, missed []string
	for _, row := range r.Rows {
		if row.Target == "" {
			continue
		}
		line := fmt.Sprintf("%s — %s: %s (vipd %s %s", row.Section, row.Name, row.Target, Number(row.Vipd.Median), row.Unit)
		if row.Keepalived.Measured() {
			line += fmt.Sprintf(", keepalived %s %s", Number(row.Keepalived.Median), row.Unit)
		}
		line += ")"
		if row.Met {
			met = append(met, line)
		} else {
			missed = append(missed, line)
		}
	}
	if len(met)+len(missed) > 0 {
		fmt.Fprintf(&b, "## Targets: %d met, %d missed\n\n", len(met), len(missed))
		for _, l := range missed {
			fmt.Fprintf(&b, "- **missed**: %s\n", l)
		}
		for _, l := range met {
			fmt.Fprintf(&b, "- met: %s\n", l)
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func cell(s Summary) string {
	if !s.Measured() {
		return "—"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("**%s**", Number(s.Median))
	}
	return fmt.Sprintf("**%s** (%s–%s)", Number(s.Median), Number(s.Min), Number(s.Max))
}

func bound(v float64) string {
	if v == 0 {
		return "—"
	}
	return Number(v)
}

func overBound(r Row) string {
	if r.Bound == 0 {
		return "—"
	}
	f := func(s Summary) string {
		if !s.Measured() {
			return "—"
		}
		return fmt.Sprintf("%+.1f", s.Median-r.Bound)
	}
	return f(r.Vipd) + " / " + f(r.Keepalived)
}

func verdict(r Row) string {
	switch {
	case r.Target == "":
		return ""
	case r.Met:
		return "met: " + r.Target
	default:
		return "**missed**: " + r.Target
	}
}

// Number formats a figure to about three significant digits, and no
// coarser than a hundredth below 100: 3063, 306.4, 30.64, 3.06, 0.31. NaN
// is a dash.
func Number(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "—"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
