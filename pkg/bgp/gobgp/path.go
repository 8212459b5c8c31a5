package gobgp

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/vipd/vipd/pkg/bgp"
)

var (
	familyIPv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyIPv6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

func family(p netip.Prefix) *api.Family {
	if p.Addr().Is4() {
		return familyIPv4
	}
	return familyIPv6
}

// apiPath returns the GoBGP path that announces p from AS asn. The next
// hop is left unspecified: GoBGP puts the session's local address there.
func apiPath(p netip.Prefix, pref bgp.Pref, asn uint32) (*api.Path, error) {
	if !p.IsValid() || p != p.Masked() {
		return nil, fmt.Errorf("bgp: %s is not a prefix", p)
	}
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	if err != nil {
		return nil, err
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return nil, err
	}
	pattrs := []*anypb.Any{origin}
	if p.Addr().Is4() {
		nh, err := anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
		if err != nil {
			return nil, err
		}
		pattrs = append(pattrs, nh)
	} else {
		mp, err := anypb.New(&api.MpReachNLRIAttribute{Family: familyIPv6, NextHops: []string{"::"}, Nlris: []*anypb.Any{nlri}})
		if err != nil {
			return nil, err
		}
		pattrs = append(pattrs, mp)
	}
	med, err := anypb.New(&api.MultiExitDiscAttribute{Med: pref.MED})
	if err != nil {
		return nil, err
	}
	pattrs = append(pattrs, med)
	if pref.Prepend > 0 {
		asns := make([]uint32, pref.Prepend)
		for i := range asns {
			asns[i] = asn
		}
		aspath, err := anypb.New(&api.AsPathAttribute{Segments: []*api.AsSegment{{Type: api.AsSegment_AS_SEQUENCE, Numbers: asns}}})
		if err != nil {
			return nil, err
		}
		pattrs = append(pattrs, aspath)
	}
	return &api.Path{Family: family(p), Nlri: nlri, Pattrs: pattrs}, nil
}
