package config

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/vipd/vipd/pkg/health"
)

// routed reports an instance announced by routing; nodes are in order of
// preference. A node's route is withdrawn at once when a weight-0 check
// fails, and made the worst when it is drained or stopped; a dead node's
// route stays until the routers' sessions to it time out.
func (r *reporter) routed(c *Config, inst Instance, nodes []reportNode) {
	how := fmt.Sprintf("from kernel table %d, protocol %d, by the node's routing daemon (vipd speaks no BGP)", inst.RouteTable, inst.RouteProtocol)
	if inst.Announce == AnnounceBGP {
		how = "over BGP"
		if c.BGP != nil {
			how = fmt.Sprintf("over BGP to %d peers (hold time %s)", len(c.BGP.Peers), c.BGP.HoldTime)
		}
	}
	mode := "the preferred node carries the traffic"
	if inst.ECMP {
		mode = "ECMP: every healthy node carries traffic"
	}
	r.printf("instance %q announced %s on %s, %s:\n", inst.Name, how, inst.Interface, mode)
	r.prefix = fmt.Sprintf("instance %q: ", inst.Name)
	defer func() { r.prefix = "" }()

	prepend := c.BGP != nil && c.BGP.Prepend && inst.Announce == AnnounceBGP
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head := []string{"node", "priority", "MED"}
	for _, t := range inst.Track {
		w := "fault"
		if t.Weight != 0 {
			w = signed(t.Weight)
		}
		head = append(head, fmt.Sprintf("%s(%s)", t.Check, w))
	}
	fmt.Fprintf(tw, "  %s\n", strings.Join(head, "\t"))
	for _, n := range nodes {
		cells := []string{n.String(), fmt.Sprint(n.base), pref(n.healthy, inst.ECMP, prepend)}
		for _, t := range inst.Track {
			p, fault, _ := health.Effective(n.base, inst.Track, states(inst.Track, t.Check))
			if fault {
				cells = append(cells, "withdrawn")
			} else {
				cells = append(cells, pref(p, inst.ECMP, prepend))
			}
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
	}
	tw.Flush() // cannot fail: it writes to b
	r.printf("%s", b.Bytes())

	// The worst case of a dead node is the routers' hold time.
	dead := "the hold time of the node's routing daemon's sessions, or its BFD detection time"
	if inst.Announce == AnnounceBGP && c.BGP != nil {
		dead = fmt.Sprintf("%s (hold time; GoBGP has no BFD)", show(c.BGP.HoldTime))
	}
	for j, n := range nodes {
		what := fmt.Sprintf("%s dies", n)
		if j > 0 && !inst.ECMP {
			verb := " is"
			if j > 1 {
				verb = " are"
			}
			what += fmt.Sprintf(" while %s%s down", strings.Join(names(nodes[:j]), " and "), verb)
		}
		switch {
		case len(nodes) == 1 || c.Cluster == nil:
			r.linef("%s: routers drop its route within %s", what, dead)
		case inst.ECMP:
			r.linef("%s: routers stop sending it its share of the traffic within %s", what, dead)
		case j+1 < len(nodes):
			r.linef("%s: routers move the VIP to %s within %s", what, nodes[j+1], dead)
		default:
			r.linef("%s: the VIP goes down with it (no other node)", what)
		}
		if inst.ECMP {
			break
		}
	}
	first := nodes[0]
	for _, tr := range inst.Track {
		spec, _ := c.check(tr.Check)
		d, terms := detect(spec)
		p, fault, _ := health.Effective(first.base, inst.Track, states(inst.Track, tr.Check))
		where := fmt.Sprintf("check %s fails on %s", tr.Check, first)
		switch {
		case fault:
			r.linef("%s: its route is withdrawn within %s (%s), the VIP unbound %s later", where, show(d), terms, inst.WithdrawDelay)
		case inst.ECMP:
			r.linef("%s: priority %d → %d, no effect with ecmp", where, first.healthy, p)
		default:
			r.linef("%s: priority %d → %d, MED %s → %s within %s (%s)", where, first.healthy, p,
				pref(first.healthy, false, prepend), pref(p, false, prepend), show(d), terms)
		}
	}
	r.linef("drain or stop of a node: its routes get the worst MED at once, and routers move the traffic to another node as soon as they have one; %s later (withdraw_delay) they are withdrawn and its VIPs unbound", inst.WithdrawDelay)
}

// pref spells the preference a priority gives a node's routes: its MED,
// and the AS added to the path.
func pref(prio uint8, ecmp, prepend bool) string {
	if ecmp {
		return "equal"
	}
	med := 255 - int(prio)
	if prepend && prio < FirstPriority {
		return fmt.Sprintf("%d +%d AS", med, (FirstPriority-int(prio)+PriorityStep-1)/PriorityStep)
	}
	return fmt.Sprint(med)
}

func names(nodes []reportNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.String()
	}
	return out
}
