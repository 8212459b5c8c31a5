package daemon

import (
	"context"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
)

// guardVIPs follows the kernel's address events and has the router owning
// an address that changed check its VIPs: a VIP removed from a master by
// another network manager is put back, one bound on a backup is removed.
// It resubscribes after an error until ctx ends.
func (d *Daemon) guardVIPs(ctx context.Context) {
	for ctx.Err() == nil {
		updates := make(chan netlink.AddrUpdate, 64)
		done := make(chan struct{})
		failed := make(chan error, 1)
		err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{
			ErrorCallback: func(err error) {
				select {
				case failed <- err:
				default:
				}
			},
		})
		if err != nil {
			d.log.Error("VIP guard: cannot follow address changes", "error", err)
		} else {
			err = d.follow(ctx, updates, failed)
		}
		close(done)
		if err != nil {
			d.log.Warn("VIP guard: address events lost; following them again", "error", err)
			// Events may have been missed meanwhile: check everything.
			d.checkAllVIPs()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (d *Daemon) follow(ctx context.Context, updates <-chan netlink.AddrUpdate, failed <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return err
		case u, ok := <-updates:
			if !ok {
				return errClosed
			}
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			d.vipChanged(a.Unmap(), u.NewAddr)
		}
	}
}

type closedError struct{}

func (closedError) Error() string { return "address subscription closed" }

var errClosed = closedError{}

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
