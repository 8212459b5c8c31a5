package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/pkg/control"
)

// formatter renders a Status for people. now is when the status was
// taken, for the ages shown; loc is the time zone of the times shown.
type formatter struct {
	now time.Time
	loc *time.Location
}

// maxLast is how much of a check's last error and output the detail shows;
// the daemon keeps more, and -o json shows all of it.
const maxLast = 72

// writeJSON writes st as the API's JSON, indented.
func writeJSON(w io.Writer, st control.Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// table writes one row per instance and family, in the daemon's order.
func (f formatter) table(w io.Writer, insts []control.Instance) error {
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "NAME\tVRID\tIFACE\tFAMILY\tSTATE\tPRIO\tEFF\tMASTER\tSINCE\tVIPS\tFAILING")
	for _, in := range insts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n",
			in.Name, in.VRID, in.Interface, in.Family, state(in),
			in.Priority, in.EffectivePriority, orDash(in.Master), f.age(in.Since),
			orDash(strings.Join(vips(in, "%s(%s)"), ",")), orDash(strings.Join(in.FailingChecks, ",")))
	}
	return tw.Flush()
}

// vips returns the VIPs of in, those bound on another interface than
// in's written with format (the VIP, then the interface).
func vips(in control.Instance, format string) []string {
	out := make([]string, len(in.VIPs))
	for i, v := range in.VIPs {
		out[i] = v
		if dev, ok := in.VIPDevs[v]; ok {
			out[i] = fmt.Sprintf(format, v, dev)
		}
	}
	return out
}

// detail writes the table of st's instances, then for each its tracked
// checks, transitions and counters.
func (f formatter) detail(w io.Writer, st control.Status) error {
	if err := f.table(w, st.Instances); err != nil {
		return err
	}
	checks := make(map[string]control.Check, len(st.Checks))
	for _, ch := range st.Checks {
		checks[ch.Name] = ch
	}
	for _, in := range st.Instances {
		if err := f.instance(w, in, checks); err != nil {
			return err
		}
	}
	return nil
}

func (f formatter) instance(w io.Writer, in control.Instance, checks map[string]control.Check) error {
	fmt.Fprintf(w, "\n%s (%s): VRID %d on %s, VRRPv%d\n", in.Name, in.Family, in.VRID, in.Interface, in.VRRPVersion)
	tw := newTabWriter(w)
	fmt.Fprintf(tw, "  state\t%s\n", f.stateLine(in))
	fmt.Fprintf(tw, "  priority\t%d configured, %d effective\n", in.Priority, in.EffectivePriority)
	master := orDash(in.Master)
	if in.State == control.StateMaster && in.Master != "" {
		master += " (this node)"
	}
	fmt.Fprintf(tw, "  master\t%s\n", master)
	fmt.Fprintf(tw, "  vips\t%s\n", orDash(strings.Join(vips(in, "%s dev %s"), ", ")))
	if in.SyncGroup != "" {
		group := in.SyncGroup
		switch {
		case in.Forced != "":
			group += ": forced: " + in.Forced
		case in.WantsMaster:
			group += ": wants master, waiting for the other members"
		}
		fmt.Fprintf(tw, "  sync group\t%s\n", group)
	}
	for _, warn := range warnings(in) {
		fmt.Fprintf(tw, "  warning\t%s\n", warn)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(in.Tracks) == 0 {
		fmt.Fprintln(w, "  checks: none tracked")
	} else {
		fmt.Fprintln(w, "  checks:")
		tw = newTabWriter(w)
		fmt.Fprintln(tw, "    CHECK\tSTATE\tWEIGHT\tDURATION\tPROBES\tSINCE\tLAST")
		for _, tr := range in.Tracks {
			ch, ok := checks[tr.Check]
			if !ok {
				// Tracked but not reported: say so rather than
				// invent a state.
				fmt.Fprintf(tw, "    %s\t?\t%d\t-\t-\t-\tnot reported by vipd\n", tr.Check, tr.Weight)
				continue
			}
			fmt.Fprintf(tw, "    %s\t%s\t%d\t%s\t%d\t%s\t%s\n", ch.Name, orDash(ch.State), tr.Weight,
				probeDuration(ch.Duration), ch.Probes, f.age(ch.Since), orDash(last(ch)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(in.Transitions) == 0 {
		fmt.Fprintln(w, "  transitions: none")
	} else {
		fmt.Fprintln(w, "  transitions:")
		tw = newTabWriter(w)
		for _, tr := range in.Transitions {
			fmt.Fprintf(tw, "    %s\t%s ago\t%s -> %s\t%s\n", f.clock(tr.At), f.age(tr.At), tr.From, tr.To, tr.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	c := in.Counters
	fmt.Fprintln(w, "  counters:")
	tw = newTabWriter(w)
	fmt.Fprintf(tw, "    adverts out\t%d\n", c.AdvertsOut)
	fmt.Fprintf(tw, "    adverts in\t%d\n", c.AdvertsIn)
	fmt.Fprintf(tw, "    send errors\t%d\n", c.SendErrors)
	fmt.Fprintf(tw, "    transitions\t%d\n", c.Transitions)
	fmt.Fprintf(tw, "    announcements\t%d\n", c.Announcements)
	fmt.Fprintf(tw, "    bind errors\t%d\n", c.BindErrors)
	fmt.Fprintf(tw, "    master conflicts\t%d\n", c.Conflicts)
	fmt.Fprintf(tw, "    VRID collisions\t%d\n", c.Collisions)
	fmt.Fprintf(tw, "    VIPs restored by guard\t%d\n", c.GuardRestored)
	fmt.Fprintf(tw, "    VIPs removed by guard\t%d\n", c.GuardRemoved)
	fmt.Fprintf(tw, "    late timers\t%d\n", c.LateTimers)
	fmt.Fprintf(tw, "    dropped\t%s\n", dropped(c.Dropped))
	if h := in.Hooks; h != nil {
		// The instance's families share its hook, and these counters.
		fmt.Fprintf(tw, "    hook runs\t%d\n", h.Runs)
		fmt.Fprintf(tw, "    hook failures\t%d (%d timed out)\n", h.Failures, h.Timeouts)
		fmt.Fprintf(tw, "    hook events dropped\t%d\n", h.Dropped)
	}
	return tw.Flush()
}

// warnings are the incidents of an instance that need someone's
// attention, shown next to its state rather than left among the counters.
// A VRID collision does not heal by itself: another virtual router on the
// network uses the same VRID and the configuration must change. A master
// conflict heals (the master of lower priority yields), but two masters
// at once mean the nodes did not hear each other for a while.
func warnings(in control.Instance) []string {
	var ws []string
	c := in.Counters
	if c.Collisions > 0 {
		ws = append(ws, fmt.Sprintf("VRID collision: %s with another address list since vipd started; another virtual router uses VRID %d",
			plural(c.Collisions, "advert"), in.VRID))
	}
	if c.Conflicts > 0 {
		ws = append(ws, fmt.Sprintf("master conflict: %s from another master of lower priority since vipd started, each answered at once",
			plural(c.Conflicts, "advert")))
	}
	return ws
}

// plural is n and noun, with an s unless n is 1.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// state is the state shown for an instance: DRAINED hides the VRRP state
// of a drained instance, which the detail shows too.
func state(in control.Instance) string {
	if in.Drained {
		return control.StateDrained
	}
	return orDash(in.State)
}

func (f formatter) stateLine(in control.Instance) string {
	s := state(in)
	if in.Drained {
		s += " (" + orDash(in.State) + ")"
	}
	switch age := f.age(in.Since); {
	case in.Since.IsZero():
	case age == "-":
		s += " since " + f.clock(in.Since)
	default:
		s += fmt.Sprintf(" for %s, since %s", age, f.clock(in.Since))
	}
	if in.Reason != "" {
		s += ": " + in.Reason
	}
	return s
}

// age is how long ago t was, "-" when t is unknown or ahead of now (the
// daemon's clock and ours disagree).
func (f formatter) age(t time.Time) string {
	if t.IsZero() || t.After(f.now) {
		return "-"
	}
	return human(f.now.Sub(t))
}

func (f formatter) clock(t time.Time) string {
	return t.In(f.loc).Format("2006-01-02 15:04:05 MST")
}

// human renders a duration in its two largest units, to the second:
// 42s, 3m12s, 5h3m, 2d4h.
func human(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// probeDuration renders the duration of a probe to three significant
// digits or so: 850µs, 3.25ms, 1.5s. A zero duration is a check that has
// not probed, or a link, whose state is read from events.
func probeDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// last is a check's last error and output on one line, cut to maxLast
// characters.
func last(ch control.Check) string {
	var parts []string
	for _, s := range []string{ch.LastError, ch.LastOutput} {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			parts = append(parts, s)
		}
	}
	return cut(strings.Join(parts, ": "), maxLast)
}

// cut shortens s to n characters, the last of them an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// dropped renders drop counters by reason, sorted: "address_mismatch 1,
// ttl 3", or "none".
func dropped(m map[string]uint64) string {
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(m)) {
		if n := m[reason]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", reason, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
