package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A ChartPoint is the takeover time at one advert interval: the protocol
// bound and the measurements of both daemons, in milliseconds.
type ChartPoint struct {
	Interval         time.Duration
	Bound            float64
	Vipd, Keepalived Summary
}

// Geometry of the chart: two panels side by side, each plotW × plotH
// pixels inside margins that hold the axes' labels.
const (
	chartW, chartH = 900, 400
	plotW, plotH   = 340, 270
	plotTop        = 70
	leftX, rightX  = 70, 520 // left edges of the two panels
)

// targetOver is how far over the bound vipd's takeover may be, drawn in
// the right panel.
const targetOver = 2.0

// Colours of the series; the bound is black.
const (
	colourVipd       = "#1f77b4"
	colourKeepalived = "#d62728"
)

// TakeoverSVG draws an SVG chart of takeover time against advert interval.
// The left panel shows the medians with min–max whiskers on log-log axes,
// the protocol bound (Master_Down_Interval) as a dashed line; the right one
// zooms on what matters, the time over the bound, in linear milliseconds.
func TakeoverSVG(points []ChartPoint) string {
	pts := slices.Clone(points)
	slices.SortFunc(pts, func(a, b ChartPoint) int { return int(a.Interval - b.Interval) })
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	b.WriteString(`<text x="450" y="22" text-anchor="middle" font-size="15">Takeover after the master's link is cut: last advert → first gratuitous ARP</text>` + "\n")
	legend(&b)
	if len(pts) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}

	// x: log of the interval, half a decade of room on each side.
	lx0 := math.Log10(float64(pts[0].Interval)) - 0.25
	lx1 := math.Log10(float64(pts[len(pts)-1].Interval)) + 0.25
	xAt := func(left float64, d time.Duration) float64 {
		return left + (math.Log10(float64(d))-lx0)/(lx1-lx0)*plotW
	}

	// Left panel, y: log of the time in ms, whole decades.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		for _, v := range []float64{p.Bound, p.Vipd.Min, p.Vipd.Max, p.Keepalived.Min, p.Keepalived.Max} {
			if v > 0 && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	ly0, ly1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if ly1 == ly0 {
		ly1++
	}
	yLog := func(v float64) float64 {
		return plotTop + plotH - (math.Log10(v)-ly0)/(ly1-ly0)*plotH
	}
	frame(&b, leftX, "takeover (ms, log scale)")
	for e := ly0; e <= ly1; e++ {
		y := yLog(math.Pow(10, e))
		gridY(&b, leftX, y, tick(math.Pow(10, e)))
	}
	xTicks(&b, leftX, pts, xAt)
	var bound []string
	for _, p := range pts {
		bound = append(bound, fmt.Sprintf("%.1f,%.1f", xAt(leftX, p.Interval), yLog(p.Bound)))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="black" stroke-dasharray="6 4"/>`+"\n", strings.Join(bound, " "))
	series(&b, pts, func(p ChartPoint) Summary { return p.Vipd }, -4, colourVipd, func(d time.Duration) float64 { return xAt(leftX, d) }, yLog)
	series(&b, pts, func(p ChartPoint) Summary { return p.Keepalived }, 4, colourKeepalived, func(d time.Duration) float64 { return xAt(leftX, d) }, yLog)

	// Right panel, y: time over the bound, linear, 0 included.
	over := func(s Summary, p ChartPoint) Summary {
		return Summary{N: s.N, Median: s.Median - p.Bound, Min: s.Min - p.Bound, Max: s.Max - p.Bound}
	}
	lo, hi = 0, 1
	for _, p := range pts {
		for _, s := range []Summary{over(p.Vipd, p), over(p.Keepalived, p)} {
			if s.Measured() {
				lo, hi = math.Min(lo, s.Min), math.Max(hi, s.Max)
			}
		}
	}
	step := niceStep((hi - lo) / 5)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	yLin := func(v float64) float64 { return plotTop + plotH - (v-lo)/(hi-lo)*plotH }
	frame(&b, rightX, "over the bound (ms)")
	for v := lo; v <= hi+step/2; v += step {
		gridY(&b, rightX, yLin(v), tick(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-dasharray="6 4"/>`+"\n", rightX, yLin(0), rightX+plotW, yLin(0))
	if targetOver <= hi {
		y := yLin(targetOver)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2ca02c" stroke-dasharray="2 3"/>`+"\n", rightX, y, rightX+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#2ca02c">target: bound + %g ms</text>`+"\n", rightX+plotW-4, y-4, targetOver)
	}
	xTicks(&b, rightX, pts, xAt)
	series(&b, pts, func(p ChartPoint) Summary { return over(p.Vipd, p) }, -4, colourVipd, func(d time.Duration) float64 { return xAt(rightX, d) }, yLin)
	series(&b, pts, func(p ChartPoint) Summary { return over(p.Keepalived, p) }, 4, colourKeepalived, func(d time.Duration) float64 { return xAt(rightX, d) }, yLin)
	b.WriteString("</svg>\n")
	return b.String()
}

func legend(b *strings.Builder) {
	items := []struct{ label, colour, dash string }{
		{"vipd (median, min–max)", colourVipd, ""},
		{"keepalived (median, min–max)", colourKeepalived, ""},
		{"protocol bound: 3 × interval + skew", "black", ` stroke-dasharray="6 4"`},
	}
	x := 150.0
	for _, it := range items {
		fmt.Fprintf(b, `<line x1="%.0f" y1="44" x2="%.0f" y2="44" stroke="%s" stroke-width="2"%s/>`+"\n", x, x+24, it.colour, it.dash)
		fmt.Fprintf(b, `<text x="%.0f" y="48">%s</text>`+"\n", x+30, it.label)
		x += 30 + float64(len([]rune(it.label)))*6.5 + 24
	}
}

// frame draws a panel's box and its axis titles.
func frame(b *strings.Builder, left int, yTitle string) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, plotTop, plotW, plotH)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">advert interval (log scale)</text>`+"\n", left+plotW/2, plotTop+plotH+38)
	fmt.Fprintf(b, `<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", left-52, plotTop+plotH/2, yTitle)
}

func gridY(b *strings.Builder, left int, y float64, label string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+plotW, y)
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, label)
}

func xTicks(b *strings.Builder, left int, pts []ChartPoint, xAt func(float64, time.Duration) float64) {
	for _, p := range pts {
		x := xAt(float64(left), p.Interval)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, plotTop, x, plotTop+plotH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%v</text>`+"\n", x, plotTop+plotH+18, p.Interval)
	}
}

// series draws one daemon's medians joined by a line, each with a whisker
// from min to max, shifted by dx pixels so that the two daemons' whiskers
// do not hide each other.
func series(b *strings.Builder, pts []ChartPoint, get func(ChartPoint) Summary, dx float64, colour string, x func(time.Duration) float64, y func(float64) float64) {
	var line []string
	for _, p := range pts {
		s := get(p)
		if !s.Measured() {
			continue
		}
		px := x(p.Interval) + dx
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", px, y(s.Min), px, y(s.Max), colour)
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%v: median %s ms (%s–%s)</title></circle>`+"\n",
			px, y(s.Median), colour, p.Interval, Number(s.Median), Number(s.Min), Number(s.Max))
		line = append(line, fmt.Sprintf("%.1f,%.1f", px, y(s.Median)))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(line, " "), colour)
}

// tick formats a grid label: as short as the value allows.
func tick(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// niceStep rounds a grid step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}
