package config

// The forms of single values: names, interface names, addresses, VIPs and
// the entries of vips and track_interfaces.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vipd/vipd/pkg/health"
)

// checkName checks the name of a node or instance, which appears in flags,
// logs and metric labels.
func checkName(s string) error {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q may contain only letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

// checkIfName checks a network interface name as Linux does.
func checkIfName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > maxIfNameLen:
		return fmt.Errorf("is longer than %d bytes", maxIfNameLen)
	case s == "." || s == "..", strings.ContainsAny(s, "/: \t\n\v\f\r"):
		// What the kernel's dev_valid_name rejects.
		return fmt.Errorf("is not a valid interface name")
	}
	return nil
}

// parseVIPEntry parses an entry of vips: a VIP, then optionally "dev IF"
// (the interface to bind it on, as keepalived's virtual_ipaddress writes
// it) and "no_track".
func parseVIPEntry(s string) (netip.Prefix, VIPDev, error) {
	var dev VIPDev
	f := strings.Fields(s)
	if len(f) == 0 {
		return netip.Prefix{}, dev, fmt.Errorf("is empty")
	}
	vip, err := parseVIP(f[0])
	if err != nil {
		return vip, dev, err
	}
	for i := 1; i < len(f); i++ {
		switch f[i] {
		case "dev":
			switch {
			case dev.Interface != "":
				return vip, dev, fmt.Errorf("has dev twice")
			case i+1 == len(f):
				return vip, dev, fmt.Errorf("has dev without an interface")
			}
			i++
			if err := checkIfName(f[i]); err != nil {
				return vip, dev, fmt.Errorf("has dev %q, which %v", f[i], err)
			}
			dev.Interface = f[i]
		case "no_track":
			dev.NoTrack = true
		default:
			return vip, dev, fmt.Errorf("has %q, which is not an option; write \"ADDR/LEN\", \"ADDR/LEN dev IF\" or \"ADDR/LEN dev IF no_track\"", f[i])
		}
	}
	return vip, dev, nil
}

// parseVIP parses a VIP: a prefix, or a bare address meaning /32 or /128.
func parseVIP(s string) (netip.Prefix, error) {
	var vip netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return vip, fmt.Errorf("is not an address or address/prefix-length")
		}
		vip = p
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return vip, fmt.Errorf("is not an address or address/prefix-length")
		}
		if a.Zone() != "" {
			return vip, fmt.Errorf("has a zone; the instance's interface is implied")
		}
		vip = netip.PrefixFrom(a, a.BitLen())
	}
	if err := checkHostAddr(vip.Addr()); err != nil {
		return vip, err
	}
	if vip.Bits() == 0 {
		return vip, fmt.Errorf("has prefix length 0")
	}
	return vip, nil
}

// parseHostAddr parses the address of a host: no prefix length, no zone.
func parseHostAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Errorf("is not an IP address")
	case a.Zone() != "":
		return a, fmt.Errorf("has a zone; write the address without it")
	}
	return a, checkHostAddr(a)
}

// checkHostAddr rejects addresses that cannot belong to one host.
func checkHostAddr(a netip.Addr) error {
	switch {
	case a.Is4In6():
		return fmt.Errorf("is an IPv4-mapped IPv6 address; write the IPv4 address")
	case a.IsUnspecified():
		return fmt.Errorf("is the unspecified address")
	case a.IsMulticast():
		return fmt.Errorf("is a multicast address")
	case a.IsLoopback():
		return fmt.Errorf("is a loopback address")
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("is the broadcast address")
	}
	return nil
}

// parseTrackInterface parses a track_interfaces entry, "IF" or
// "IF weight W" as keepalived's track_interface writes it.
func parseTrackInterface(s string) (TrackInterface, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return TrackInterface{}, fmt.Errorf("is empty")
	}
	t := TrackInterface{Name: f[0]}
	if len(f) == 1 || f[1] != "weight" {
		// A name with a space or a tab in it is not one.
		if err := checkIfName(s); err != nil {
			return t, err
		}
	}
	if err := checkIfName(t.Name); err != nil {
		return t, err
	}
	switch {
	case len(f) == 1:
		return t, nil
	case f[1] != "weight" || len(f) > 3:
		return t, fmt.Errorf("is not \"IF\" or \"IF weight W\"")
	case len(f) == 2:
		return t, fmt.Errorf("has weight without a value")
	}
	w, err := strconv.Atoi(f[2])
	if err != nil || w < health.MinWeight || w > health.MaxWeight {
		return t, fmt.Errorf("has weight %q; want an integer in %d..%d", f[2], health.MinWeight, health.MaxWeight)
	}
	t.Weight = w
	return t, nil
}
