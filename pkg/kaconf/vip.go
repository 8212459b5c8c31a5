package kaconf

// The virtual addresses of an instance: keepalived's virtual_ipaddress
// entries, and the vips vipd makes of them.

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/vipd/vipd/pkg/config"
)

// kaVIP is a virtual_ipaddress entry keepalived keeps.
type kaVIP struct {
	at      *stmt
	addr    netip.Addr
	bits    int
	dev     string
	noTrack bool
}

// vip reads one virtual_ipaddress entry as keepalived's alloc_ipaddress:
// ADDRESS[/PREFIX] and options, some of which drop the address when wrong.
func (c *fileConv) vip(in *vInstance, label string, e *stmt) {
	text := e.keyword()
	v6 := strings.Contains(text, ":")
	bits := 32
	if v6 {
		bits = 128
	}
	addrText := text
	if i := strings.IndexByte(text, '/'); i >= 0 {
		addrText = text[:i]
		if n := kaUnsigned(text[i+1:], 0, uint64(bits), true); n.ok {
			bits = int(n.val)
		} else {
			c.n.at(e, "%s: virtual_ipaddress %s: keepalived says \"Invalid address prefix len\" and uses /%d", label, text, bits)
		}
	}
	a, err := netip.ParseAddr(addrText)
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		why := "keepalived skips it (\"VRRP parsed invalid IP\")"
		if strings.Contains(text, "$") || strings.Contains(text, "{") {
			why += "; an unresolved placeholder?"
		}
		c.n.at(e, "%s: virtual_ipaddress %s: %s", label, text, why)
		return
	}
	vp := kaVIP{at: e, addr: a, bits: bits}
	opts := e.words[1:]
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch o {
		case "dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft":
			if i+1 >= len(opts) {
				c.n.at(e, "%s: virtual_ipaddress %s: %s without a value: keepalived skips the address", label, text, o)
				return
			}
		}
		switch o {
		case "dev":
			i++
			if vp.dev != "" {
				c.n.at(e, "%s: virtual_ipaddress %s: dev given twice: keepalived skips the address", label, text)
				return
			}
			vp.dev = opts[i]
		case "broadcast", "brd":
			i++
			if v6 {
				c.n.at(e, "%s: virtual_ipaddress %s: a broadcast address for IPv6: keepalived skips the address", label, text)
				return
			}
			if b := opts[i]; b != "+" && b != "-" {
				if _, err := netip.ParseAddr(b); err != nil {
					c.n.at(e, "%s: virtual_ipaddress %s: invalid broadcast %s: keepalived skips the address", label, text, b)
					return
				}
				c.n.at(e, "%s: virtual_ipaddress %s %s %s: dropped; vipd sets the broadcast address of the prefix", label, text, o, b)
			}
		case "label":
			i++
			if len(opts[i]) > maxIfName {
				c.n.at(e, "%s: virtual_ipaddress %s: label %s is too long: keepalived skips the address", label, text, opts[i])
				return
			}
			if !v6 {
				c.n.at(e, "%s: virtual_ipaddress %s label %s: dropped; vipd labels its IPv4 addresses IF:vipd", label, text, opts[i])
			}
		case "scope":
			i++
			if !v6 && opts[i] != "global" && opts[i] != "0" {
				c.n.at(e, "%s: virtual_ipaddress %s scope %s: dropped; vipd adds VIPs with global scope", label, text, opts[i])
			}
		case "peer", "preferred_lft":
			i++
			c.n.at(e, "%s: virtual_ipaddress %s %s %s: dropped; vipd adds the address with its prefix and nothing else", label, text, o, opts[i])
		case "no_track":
			vp.noTrack = true
		case "-nodad", "nodad", "home", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac":
			if o != "-nodad" && o != "nodad" {
				c.n.at(e, "%s: virtual_ipaddress %s: option %s: dropped; vipd adds the address with its prefix and nothing else", label, text, o)
			}
		default:
			c.n.at(e, "%s: virtual_ipaddress %s: option %s: keepalived ignores it (\"Unknown configuration entry\")", label, text, o)
		}
	}
	if !c.setFamily(in, a) {
		c.n.at(e, "%s: virtual_ipaddress %s is %s, but the instance is %s: keepalived ignores it (\"address family must match VRRP instance\")",
			label, text, family(a.Is6()), familyOf(in.family))
		return
	}
	in.kaVIPs = append(in.kaVIPs, vp)
}

// convertVIPs makes the instance's vips of keepalived's addresses, and
// decides whether vipd's advert lists the same addresses.
func (c *fileConv) convertVIPs(in *vInstance, label string) {
	var dropped []kaVIP
	for _, v := range in.kaVIPs {
		p := netip.PrefixFrom(v.addr, v.bits)
		if _, err := parseVIP(p.String()); err != nil {
			c.n.at(v.at, "%s: virtual_ipaddress %s %s: vipd cannot hold it as a VIP; dropped", label, v.at.keyword(), err)
			dropped = append(dropped, v)
			continue
		}
		if slices.ContainsFunc(in.vips, func(q netip.Prefix) bool { return q.Addr() == v.addr }) {
			c.n.at(v.at, "%s: virtual_ipaddress %s is listed again; vipd holds it once", label, v.at.keyword())
			dropped = append(dropped, v)
			continue
		}
		in.vips = append(in.vips, p)
		// keepalived binds it on dev, lists it in the adverts on the
		// instance's interface all the same, and tracks dev's link
		// unless no_track (vrrp_complete_instance); so does vipd.
		switch {
		case v.dev != "" && v.dev != in.iface:
			if in.vipDevs == nil {
				in.vipDevs = make(map[netip.Addr]config.VIPDev)
			}
			in.vipDevs[v.addr] = config.VIPDev{Interface: v.dev, NoTrack: v.noTrack}
			c.n.at(v.at, "%s: virtual_ipaddress %s dev %s: if %s is missing when keepalived starts, it drops the address (\"interface %s for ip address %s doesn't exist\") and advertises the others; vipd waits for %s, in FAULT", label, v.at.keyword(), v.dev, v.dev, v.dev, v.at.keyword(), v.dev)
		case v.noTrack:
			c.n.at(v.at, "%s: virtual_ipaddress %s no_track: the address is on the instance's interface, which keepalived and vipd track all the same; dropped", label, v.at.keyword())
		}
	}
	if len(dropped) > 0 {
		var ka []string
		for _, v := range in.kaVIPs {
			ka = append(ka, v.addr.String())
		}
		c.unsafe(in, dropped[0].at, "keepalived advertises the addresses %s, and vipd would advertise %d of them: a vipd backup drops a keepalived master's adverts as an address mismatch, and keepalived drops vipd's, so both become master (as for virtual_ipaddress_excluded, change the addresses once every node runs vipd)",
			strings.Join(ka, " "), len(in.vips))
	}
	for _, e := range in.evips {
		if _, err := parseVIP(e.keyword()); err != nil {
			c.n.at(e, "%s: virtual_ipaddress_excluded %s: keepalived adds it on the master; vipd cannot hold it", label, e.keyword())
		}
	}
	if len(in.evips) > 0 {
		c.unsafe(in, in.evips[0], "virtual_ipaddress_excluded: keepalived's master also holds these addresses, without advertising them; vipd has no such addresses, and as VIPs they would change the address list the routers of the VRID compare in every advert (add them to vips once every node runs vipd)")
	}
	if len(in.vips) == 0 {
		c.refuse(in, in.at, "no virtual_ipaddress that vipd can hold")
	}
}

// parseVIP parses a VIP as vipd accepts it: an address, with a prefix
// length or without (/32, /128), that can belong to a host.
func parseVIP(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		q, err := netip.ParsePrefix(s)
		if err != nil {
			return p, errors.New("is not an address or address/prefix-length")
		}
		p = q
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, errors.New("is not an address or address/prefix-length")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	switch {
	case p.Bits() == 0:
		return p, errors.New("has prefix length 0")
	case a.Is4In6(), a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(),
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return p, errors.New("cannot be a VIP (unspecified, multicast, loopback, broadcast or IPv4-mapped)")
	}
	return p, nil
}
