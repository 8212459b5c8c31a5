package netif

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Addrs adds, removes and lists the addresses of interfaces over netlink,
// and forgets the neighbour entries a link left unresolved (neighbors.go).
// Errors keep the kernel's errno, so errors.Is(err, os.ErrPermission) tells
// a missing CAP_NET_ADMIN. Its methods may be called concurrently.
type Addrs struct {
	h *netlink.Handle
	// reqs is served by one goroutine, which Close stops; nil runs the
	// requests in place.
	reqs     chan func()
	stop     chan struct{}
	stopOnce sync.Once
}

// NewAddrs returns an Addrs working through h, or in the network namespace
// of the calling thread (a new netlink socket per request) when h is nil.
//
// With h, every request runs on one goroutine of its own until Close: the
// netlink package receives into a 64 KiB array on the stack, which would
// grow to 128 KiB the stack of each goroutine that calls it (each virtual
// router's, when hundreds take over at once) and leave it so.
func NewAddrs(h *netlink.Handle) *Addrs {
	if h == nil {
		// A zero Handle has no sockets of its own and opens one per
		// request, like the netlink package's functions. Requests run
		// in place: the namespace is the calling thread's.
		return &Addrs{h: &netlink.Handle{}}
	}
	a := &Addrs{h: h, reqs: make(chan func()), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case f := <-a.reqs:
				f()
			case <-a.stop:
				return
			}
		}
	}()
	return a
}

// Close stops the goroutine of the requests; later requests fail with
// net.ErrClosed, as the Announcer's do. It does not close the Handle.
func (a *Addrs) Close() {
	if a.stop != nil {
		a.stopOnce.Do(func() { close(a.stop) })
	}
}

// labelSuffix marks vipd's IPv4 addresses in `ip addr` and ifconfig.
const labelSuffix = ":vipd"

// Label returns the IPv4 address label vipd uses on interface ifname:
// ifname+":vipd", cut to the 15 bytes an address label may have. Labels
// start with the interface name (ip(8) and ifconfig rely on it), so with a
// long interface name the suffix shrinks; when fewer than two bytes are
// left (colon and a letter) the label is the interface name alone, as for
// an address without label. The label is for people reading `ip addr`:
// vipd recognises its addresses by its configuration, not by label.
func Label(ifname string) string {
	const max = unix.IFNAMSIZ - 1
	if len(ifname) >= max-1 {
		return ifname[:min(len(ifname), max)]
	}
	suffix := labelSuffix[:min(len(labelSuffix), max-len(ifname))]
	return ifname + suffix
}

// Add puts p on the interface. An address already there counts as added
// (for IPv6, with any prefix length, as the kernel allows no second one).
// IPv6 addresses skip duplicate address detection (IFA_F_NODAD): a VIP
// must answer at once, and VRRP, not DAD, guarantees it has one owner.
// label is used for IPv4 only ("" means none; see Label); IPv6 addresses
// carry no labels.
//
// A VIP answers but is never the source of the node's own connections,
// which would leave from an address that moves (etcd peers check it
// against certificates). IPv6 VIPs are deprecated (preferred lifetime 0,
// valid forever), which source address selection avoids (RFC 6724, rule
// 3). IPv4 VIPs get no prefix route (IFA_F_NOPREFIXROUTE, keepalived's
// noprefixroute): the kernel makes a VIP in a subnet where the node has
// no address the primary of that subnet, and the source of its route. The
// node reaches such a subnet, and answers clients in it, by its own routes.
// Demote puts a VIP behind a node address that came back after it.
func (a *Addrs) Add(ifindex int, p netip.Prefix, label string) error {
	addr, err := vipAddr(ifindex, p, label)
	if err != nil {
		return fmt.Errorf("netif: add %s to interface %d: %w", p, ifindex, err)
	}
	if err := a.call(func() error { return a.h.AddrAdd(nil, addr) }); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: add %s to interface %d: %w", p, ifindex, err)
	}
	return nil
}

// lftForever is the lifetime that never ends. A variable: as a constant
// it would not convert to a 32-bit int. There it converts to -1, which the
// netlink package does not send: IPv6 VIPs stay preferred.
var lftForever uint32 = math.MaxUint32

// vipAddr returns the address Add puts on an interface for p.
func vipAddr(ifindex int, p netip.Prefix, label string) (*netlink.Addr, error) {
	addr, err := toNetlink(ifindex, p)
	if err != nil {
		return nil, err
	}
	if p.Addr().Is4() {
		addr.Label = label
		addr.Flags = unix.IFA_F_NOPREFIXROUTE
	} else {
		addr.Flags = unix.IFA_F_NODAD
		// The netlink package sends lifetimes only when one is not 0.
		addr.ValidLft = int(lftForever)
		addr.PreferedLft = 0
	}
	return addr, nil
}

// Remove takes p off the interface. An address that is not there counts as
// removed.
func (a *Addrs) Remove(ifindex int, p netip.Prefix) error {
	addr, err := toNetlink(ifindex, p)
	if err != nil {
		return fmt.Errorf("netif: remove %s from interface %d: %w", p, ifindex, err)
	}
	if err := a.call(func() error { return a.h.AddrDel(nil, addr) }); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netif: remove %s from interface %d: %w", p, ifindex, err)
	}
	return nil
}

// List returns the addresses of the interface, IPv4 and IPv6, in the
// kernel's order.
func (a *Addrs) List(ifindex int) ([]netip.Prefix, error) {
	var list []netlink.Addr
	err := a.call(func() (err error) {
		list, err = addrList(a.h, ifindex, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netif: list addresses of interface %d: %w", ifindex, err)
	}
	ps := make([]netip.Prefix, 0, len(list))
	for _, na := range list {
		if p, ok := fromNetlink(na); ok {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// ErrNoPromote reports that an interface does not promote secondary
// addresses (net.ipv4.conf promote_secondaries is 0 for it and for all):
// removing the primary address of a subnet removes the others with it.
var ErrNoPromote = errors.New("promote_secondaries is off")

// Demote puts the node's IPv4 addresses on interface ifindex back ahead of
// the VIPs and returns the VIPs it re-added; isVIP tells vipd's VIPs, of
// all instances, from the node's addresses.
//
// The kernel makes the first address of a subnet its primary and the
// source of its route, and the first primary the source of routes that
// name none. A node address removed and added again (by a network manager)
// comes back behind a VIP: as its secondary, without a route then, or as a
// later primary. Demote takes such a VIP off and puts it back, behind the
// node's address. A VIP that would take secondaries with it stays, and the
// error wraps ErrNoPromote.
//
// Demote is one request: no other request of the same Addrs comes between
// taking a VIP off and putting it back. It reads promote_secondaries in
// /proc/sys, which shows the network namespace of the calling thread (of
// the process, with a Handle): it must be the interface's.
func (a *Addrs) Demote(ifindex int, isVIP func(netip.Addr) bool) ([]netip.Prefix, error) {
	var readded []netip.Prefix
	err := a.call(func() error {
		for round := 0; ; round++ {
			list, err := addrList(a.h, ifindex, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			addrs := v4Addrs(list)
			ah, ok := firstAhead(addrs, isVIP)
			if !ok {
				return nil
			}
			vip, node := addrs[ah.vip], addrs[ah.node]
			// Taking a VIP off promotes its first secondary, which may
			// be another VIP: each round puts one behind.
			if round == len(addrs) {
				return fmt.Errorf("%s still ahead of %s after %d rounds", vip.p, node.p, round)
			}
			if ah.secondaries {
				promotes, err := a.promotes(ifindex)
				if err != nil {
					return err
				}
				if !promotes {
					return fmt.Errorf("%s is the primary of %s, which would go with it: %w", vip.p, node.p, ErrNoPromote)
				}
			}
			del, err := toNetlink(ifindex, vip.p)
			if err != nil {
				return err
			}
			if err := a.h.AddrDel(nil, del); err != nil {
				return fmt.Errorf("remove %s: %w", vip.p, err)
			}
			add, err := vipAddr(ifindex, vip.p, vip.label)
			if err != nil {
				return err
			}
			if err := a.h.AddrAdd(nil, add); err != nil {
				return fmt.Errorf("put back %s: %w", vip.p, err)
			}
			readded = append(readded, vip.p)
		}
	})
	if err != nil {
		return readded, fmt.Errorf("netif: put VIPs of interface %d behind the node's addresses: %w", ifindex, err)
	}
	return readded, nil
}

// promotes reports whether the kernel promotes secondary addresses of the
// interface when their primary goes.
func (a *Addrs) promotes(ifindex int) (bool, error) {
	link, err := a.h.LinkByIndex(ifindex)
	if err != nil {
		return false, err
	}
	for _, dev := range []string{"all", link.Attrs().Name} {
		b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + dev + "/promote_secondaries")
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(string(b)) != "0" {
			return true, nil
		}
	}
	return false, nil
}

// v4Addr is an IPv4 address of an interface, as Demote needs it.
type v4Addr struct {
	p         netip.Prefix
	secondary bool
	global    bool // of scope global
	label     string
}

func v4Addrs(list []netlink.Addr) []v4Addr {
	addrs := make([]v4Addr, 0, len(list))
	for _, na := range list {
		if p, ok := fromNetlink(na); ok && p.Addr().Is4() {
			addrs = append(addrs, v4Addr{
				p:         p,
				secondary: na.Flags&unix.IFA_F_SECONDARY != 0,
				global:    na.Scope == unix.RT_SCOPE_UNIVERSE,
				label:     na.Label,
			})
		}
	}
	return addrs
}

// ahead is a VIP ahead of a node address: addrs[vip] is the primary of the
// subnet of addrs[node], or a primary before it.
type ahead struct {
	vip, node   int
	secondaries bool // of the VIP's subnet, which go with it
}

// firstAhead finds the first VIP ahead of a node address in addrs, in the
// kernel's order. Only a global node address counts for a primary after a
// VIP: source selection for the node's traffic skips the others.
func firstAhead(addrs []v4Addr, isVIP func(netip.Addr) bool) (ahead, bool) {
	for i, v := range addrs {
		if v.secondary || !isVIP(v.p.Addr()) {
			continue
		}
		found := ahead{vip: i, node: -1}
		for j, n := range addrs {
			sub := n.secondary && n.p.Bits() == v.p.Bits() && v.p.Masked().Contains(n.p.Addr())
			found.secondaries = found.secondaries || sub
			if found.node >= 0 || isVIP(n.p.Addr()) {
				continue
			}
			if sub || (j > i && !n.secondary && n.global) {
				found.node = j
			}
		}
		if found.node >= 0 {
			return found, true
		}
	}
	return ahead{}, false
}

// Warm grows the stack of the requests' goroutine to what a request needs.
// The collector halves the stack of an idle goroutine, and growing it back
// in the next request, on memory handed back to the system meanwhile,
// cost a takeover 0.3 ms of page faults before its advert: call Warm
// after a collection, while nothing is waiting.
func (a *Addrs) Warm() {
	if a.reqs == nil {
		return
	}
	_ = a.call(func() error {
		_, err := addrList(a.h, 1, netlink.FAMILY_V4) // the loopback's
		return err
	})
}

// call runs f on the requests' goroutine, or in place without one, and
// returns its error.
func (a *Addrs) call(f func() error) error {
	if a.reqs == nil {
		return f()
	}
	var err error
	done := make(chan struct{})
	select {
	case a.reqs <- func() { err = f(); close(done) }:
	case <-a.stop:
		return net.ErrClosed
	}
	<-done
	return err
}

// addrList dumps the addresses of one interface (of all when ifindex is 0),
// retrying a dump that a concurrent change interrupted.
func addrList(h *netlink.Handle, ifindex, family int) ([]netlink.Addr, error) {
	var link netlink.Link
	if ifindex != 0 {
		link = &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}
	}
	return dump(func() ([]netlink.Addr, error) { return h.AddrList(link, family) })
}

// dump runs a netlink dump, again when a concurrent change interrupted it
// (its list may then miss entries), up to 5 times.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var l []T
		l, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return l, err
		}
	}
	return nil, err
}

func toNetlink(ifindex int, p netip.Prefix) (*netlink.Addr, error) {
	if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return nil, fmt.Errorf("invalid prefix %q", p)
	}
	return &netlink.Addr{
		IPNet:     &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		LinkIndex: ifindex,
	}, nil
}

func fromNetlink(na netlink.Addr) (netip.Prefix, bool) {
	if na.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := na.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// ErrNoAddress reports that an interface has no address of the kind asked
// for yet; it may get one later (link-local after the link comes up).
var ErrNoAddress = errors.New("no suitable address")

// LinkLocal returns the first IPv6 link-local address of ifi that is usable
// as a source: not tentative (duplicate address detection still running)
// and not failed. It prefers one that is not deprecated, as source address
// selection does. The address has no zone.
func LinkLocal(ifi *net.Interface) (netip.Addr, error) {
	list, err := addrList(&netlink.Handle{}, ifi.Index, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netif: addresses of %s: %w", ifi.Name, err)
	}
	var deprecated netip.Addr
	for _, na := range list {
		p, ok := fromNetlink(na)
		if !ok || !p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if na.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		if na.Flags&unix.IFA_F_DEPRECATED != 0 {
			if !deprecated.IsValid() {
				deprecated = p.Addr()
			}
			continue
		}
		return p.Addr(), nil
	}
	if deprecated.IsValid() {
		return deprecated, nil
	}
	return netip.Addr{}, fmt.Errorf("netif: link-local address of %s: %w", ifi.Name, ErrNoAddress)
}

// PrimaryIPv4 returns the first IPv4 address of ifi for which exclude (if
// not nil) is false. Callers exclude their virtual addresses, which a
// master holds on the same interface.
func PrimaryIPv4(ifi *net.Interface, exclude func(netip.Addr) bool) (netip.Addr, error) {
	list, err := addrList(&netlink.Handle{}, ifi.Index, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netif: addresses of %s: %w", ifi.Name, err)
	}
	for _, na := range list {
		p, ok := fromNetlink(na)
		if !ok || !p.Addr().Is4() || (exclude != nil && exclude(p.Addr())) {
			continue
		}
		return p.Addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("netif: IPv4 address of %s: %w", ifi.Name, ErrNoAddress)
}

// LocalAddrs returns every address of every interface, loopback included,
// without zones. vipd compares them with the configured node addresses to
// find which node it runs on.
func LocalAddrs() ([]netip.Addr, error) {
	list, err := addrList(&netlink.Handle{}, 0, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("netif: local addresses: %w", err)
	}
	addrs := make([]netip.Addr, 0, len(list))
	for _, na := range list {
		if p, ok := fromNetlink(na); ok {
			addrs = append(addrs, p.Addr())
		}
	}
	return addrs, nil
}
