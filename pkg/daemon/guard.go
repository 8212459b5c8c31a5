package daemon

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/netif"
)

// guardVIPs follows the kernel's address events and has the router owning
// an address that changed check its VIPs: a VIP removed from a master by
// another network manager is put back, one bound on a backup is removed.
// Link and address events also retry the routers that wait for their
// interface or address, and a node address that comes back behind a VIP
// has the VIP put behind it again (see netif.Addrs.Demote), so that the
// node's own traffic never leaves from a VIP.
// It subscribes again after an error until ctx ends.
func (d *Daemon) guardVIPs(ctx context.Context) {
	g := guard{d: d, noPromote: make(map[int]bool)}
	for ctx.Err() == nil {
		ev, err := d.sys.Subscribe()
		if err != nil {
			d.log.Error("VIP guard: cannot follow address changes", "error", err)
		} else {
			// What changed before the subscription is not in its
			// events: the waiting routers look again.
			d.poke()
			stop := context.AfterFunc(ctx, func() { ev.Close() })
			err = g.follow(ev)
			stop()
			ev.Close()
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("VIP guard: address events lost; following them again", "error", err)
		// Events may have been missed meanwhile: check everything.
		d.checkAllVIPs()
		for _, ifindex := range d.vipInterfaces() {
			g.demote(ifindex)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// guard is the state of guardVIPs's goroutine.
type guard struct {
	d *Daemon
	// noPromote are the interfaces already warned about: they do not
	// promote secondary addresses, so a VIP cannot be put behind a node
	// address there.
	noPromote map[int]bool
}

// follow hands the address events to the routers until receiving fails.
func (g *guard) follow(ev Events) error {
	d := g.d
	for {
		evs, err := ev.Receive()
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			// An interface or address that routers wait for may have
			// come.
			d.poke()
		}
		for _, a := range evs {
			if a.Link {
				continue
			}
			if a.Err != nil {
				d.log.Debug("VIP guard: unreadable address event", "error", a.Err)
				continue
			}
			d.vipChanged(a.Addr, a.Added)
			if a.Addr.Is4() && !d.isVIP(a.Addr) {
				// A node address that came back, or went and
				// promoted a VIP.
				g.demote(a.Index)
			}
		}
	}
}

// demote puts the node's IPv4 addresses of an interface back ahead of the
// VIPs, and says what it did.
func (g *guard) demote(ifindex int) {
	d := g.d
	vips := d.movingVIPs()
	moved, err := d.addrs.Demote(ifindex, func(a netip.Addr) bool { return vips[a] })
	if len(moved) > 0 {
		d.log.Warn("VIP guard: a node address came back behind VIPs; put them behind it, so that the node's own traffic does not leave from a VIP",
			"interface", ifindex, "vips", moved)
	}
	switch {
	case errors.Is(err, netif.ErrNoPromote):
		if !g.noPromote[ifindex] {
			g.noPromote[ifindex] = true
			d.log.Warn("VIP guard: a VIP is the primary address of its subnet, and the interface does not promote secondary addresses: "+
				"the node's traffic may leave from the VIP; set net.ipv4.conf.IF.promote_secondaries=1", "interface", ifindex, "error", err)
		}
	case err != nil:
		d.log.Warn("VIP guard: cannot put VIPs behind the node's addresses", "interface", ifindex, "error", err)
	}
}

// isVIP reports whether a is a VIP that moves between nodes: an address
// owner's (priority 255) VIPs are the node's own addresses.
func (d *Daemon) isVIP(a netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.moving[a]
}

// movingVIPs returns the VIPs that move between nodes, for Demote, which
// calls its function on the Addrs goroutine.
func (d *Daemon) movingVIPs() map[netip.Addr]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.moving
}

// vipInterfaces returns the interfaces that carry IPv4 VIPs.
func (d *Daemon) vipInterfaces() []int {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var out []int
	for _, r := range rs {
		c := r.rt.Config()
		if len(c.VIPs) == 0 || !c.VIPs[0].Addr().Is4() {
			continue
		}
		if !slices.Contains(out, c.IfIndex) {
			out = append(out, c.IfIndex)
		}
		for _, l := range c.VIPLinks {
			if !slices.Contains(out, l.Index) {
				out = append(out, l.Index)
			}
		}
	}
	return out
}

// vipChanged tells the routers owning addr that the kernel added or
// removed it.
func (d *Daemon) vipChanged(addr netip.Addr, added bool) {
	d.mu.Lock()
	owners := d.vipOwners[addr]
	d.mu.Unlock()
	for _, rt := range owners {
		rt.VIPChanged(addr, added)
	}
}

func (d *Daemon) checkAllVIPs() {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	for _, r := range rs {
		r.rt.CheckVIPs()
	}
}
