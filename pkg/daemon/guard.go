package daemon

import (
	"context"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/pkg/netif"
)

// guardVIPs follows the kernel's address events and has the router owning
// an address that changed check its VIPs: a VIP removed from a master by
// another network manager is put back, one bound on a backup is removed.
// Link and address events also retry the routers that wait for their
// interface or address.
// It subscribes again after an error until ctx ends.
func (d *Daemon) guardVIPs(ctx context.Context) {
	for ctx.Err() == nil {
		ev, err := netif.Subscribe(nil, unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
		if err != nil {
			d.log.Error("VIP guard: cannot follow address changes", "error", err)
		} else {
			// What changed before the subscription is not in its
			// events: the waiting routers look again.
			d.poke()
			stop := context.AfterFunc(ctx, func() { ev.Close() })
			err = d.follow(ev)
			stop()
			ev.Close()
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("VIP guard: address events lost; following them again", "error", err)
		// Events may have been missed meanwhile: check everything.
		d.checkAllVIPs()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// follow hands the address events to the routers until receiving fails.
func (d *Daemon) follow(ev *netif.Events) error {
	for {
		msgs, err := ev.Receive()
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			// An interface or address that routers wait for may have
			// come.
			d.poke()
		}
		for _, m := range msgs {
			if t := m.Header.Type; t == unix.RTM_NEWLINK || t == unix.RTM_DELLINK {
				continue
			}
			a, err := netif.ParseAddrEvent(m)
			if err != nil {
				d.log.Debug("VIP guard: unreadable address event", "error", err)
				continue
			}
			d.vipChanged(a.Addr, a.Added)
		}
	}
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
	defer d.mu.Unlock()
	for _, r := range d.routers {
		r.rt.CheckVIPs()
	}
}
