package netif

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ForgetUnresolved deletes the neighbour entries of interface ifindex, of
// one family, that are still being resolved or failed to be (INCOMPLETE,
// FAILED), and returns how many it deleted. Entries that resolved, and
// static ones, stay.
//
// It is for an interface whose carrier came back. The kernel flushes the
// entries when the carrier goes, but a packet sent to a neighbour while it
// is gone makes a new one, whose probes go into the dead link; the kernel
// probes again only after its retransmit time (retrans_time_ms, 1 s by
// default) and holds the packets sent meanwhile, the link back or not. Once
// the entry is gone, the next packet probes at once. Deleting drops what
// the entry held: packets that were sent into a dead link.
func (a *Addrs) ForgetUnresolved(ifindex int, ipv6 bool) (int, error) {
	family := netlink.FAMILY_V4
	if ipv6 {
		family = netlink.FAMILY_V6
	}
	n := 0
	err := a.call(func() error {
		list, err := dump(func() ([]netlink.Neigh, error) { return a.h.NeighList(ifindex, family) })
		if err != nil {
			return err
		}
		for _, e := range list {
			if e.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
				continue
			}
			del := netlink.Neigh{LinkIndex: ifindex, Family: family, IP: e.IP}
			if err := a.h.NeighDel(&del); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete %v: %w", e.IP, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("netif: forget unresolved neighbours of interface %d: %w", ifindex, err)
	}
	return n, nil
}
