package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/control"
)

// routed writes the instances announced by routing, then the BGP
// speaker's sessions and routes; nothing when there are none. after says
// whether a table was written before, to leave a line between.
func (f formatter) routed(w io.Writer, st control.Status, after bool) error {
	if len(st.Routed) > 0 {
		if after {
			fmt.Fprintln(w)
		}
		tw := newTabWriter(w)
		fmt.Fprintln(tw, "NAME\tANNOUNCE\tIFACE\tSTATE\tPRIO\tEFF\tMED\tSINCE\tVIPS\tFAILING")
		for _, r := range st.Routed {
			med := "-"
			switch {
			case r.State != control.StateAnnounced:
			case r.ECMP:
				med = fmt.Sprintf("%d (ecmp)", r.MED)
			case r.Prepend > 0:
				med = fmt.Sprintf("%d +%d AS", r.MED, r.Prepend)
			default:
				med = fmt.Sprint(r.MED)
			}
			state := r.State
			if r.Drained {
				state = control.StateDrained
			}
			announce := r.Announce
			if r.Announce == "route" {
				announce = fmt.Sprintf("route table %d proto %d", r.Table, r.Protocol)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n",
				r.Name, announce, r.Interface, state, r.Priority, r.EffectivePriority, med,
				f.age(r.Since), orDash(strings.Join(r.VIPs, ",")), orDash(strings.Join(r.FailingChecks, ",")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b := st.BGP
	if b == nil {
		return nil
	}
	fmt.Fprintf(w, "\nBGP: AS %d, router ID %s, %s\n", b.ASN, b.RouterID, plural(b.Withdrawals, "withdrawal"))
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "PEER\tASN\tSTATE\tSINCE\tHOLD\tROUTES\tUPS")
	for _, p := range b.Peers {
		hold := "-"
		if p.HoldTimeMS > 0 {
			hold = (time.Duration(p.HoldTimeMS) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", p.Address, p.ASN, p.State, f.age(p.Since), hold, p.Advertised, p.Ups)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(b.Routes) == 0 {
		_, err := fmt.Fprintln(w, "no route announced")
		return err
	}
	tw = newTabWriter(w)
	fmt.Fprintln(tw, "ROUTE\tMED\tPREPEND")
	for _, r := range b.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", r.Prefix, r.MED, r.Prepend)
	}
	return tw.Flush()
}
