package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/config"
)

// bgpConfig resolves [bgp] for node self: its router ID, and the
// peers' TCP MD5 keys read from their files. nil without [bgp].
func bgpConfig(cfg *config.Config, self string) (*bgp.Config, error) {
	if cfg.BGP == nil {
		return nil, nil
	}
	id, err := cfg.RouterID(self)
	if err != nil {
		return nil, err
	}
	b := &bgp.Config{ASN: cfg.BGP.ASN, RouterID: id, HoldTime: cfg.BGP.HoldTime, Prepend: cfg.BGP.Prepend}
	for _, p := range cfg.BGP.Peers {
		peer := bgp.Peer{Address: p.Address, ASN: p.ASN, Port: p.Port, Multihop: p.Multihop, Source: p.Source}
		if p.PasswordFile != "" {
			key, err := os.ReadFile(p.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("%s: [[bgp.peer]] %s: %w", cfg.Path, p.Address, err)
			}
			peer.Password = strings.TrimRight(string(key), "\r\n")
			if peer.Password == "" {
				return nil, fmt.Errorf("%s: [[bgp.peer]] %s: password_file %s is empty", cfg.Path, p.Address, p.PasswordFile)
			}
		}
		b.Peers = append(b.Peers, peer)
	}
	return b, nil
}

// needsBGP reports whether an instance of cfg is announced over BGP.
func needsBGP(cfg *config.Config) bool {
	for _, inst := range cfg.Instances {
		if inst.Announce == config.AnnounceBGP {
			return true
		}
	}
	return false
}
