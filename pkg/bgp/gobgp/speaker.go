package gobgp

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/vipd/vipd/pkg/bgp"
)

// Speaker announces routes to the configured peers with GoBGP.
type Speaker struct {
	cfg bgp.Config
	log *slog.Logger

	mu          sync.Mutex
	srv         *server.BgpServer // nil while Run does not run
	routes      map[netip.Prefix]bgp.Pref
	uuids       map[netip.Prefix][]byte // GoBGP's handles of the paths added
	peers       map[netip.Addr]*bgp.PeerStatus
	withdrawals uint64
}

// New returns a speaker for cfg; it connects to nothing until Run. A nil
// logger discards.
func New(cfg bgp.Config, log *slog.Logger) *Speaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Speaker{
		cfg:    cfg,
		log:    log,
		routes: make(map[netip.Prefix]bgp.Pref),
		uuids:  make(map[netip.Prefix][]byte),
		peers:  make(map[netip.Addr]*bgp.PeerStatus),
	}
	for _, p := range cfg.Peers {
		s.peers[p.Address] = &bgp.PeerStatus{Address: p.Address, ASN: p.ASN}
	}
	return s
}

// Config returns the configuration the speaker was made with.
func (s *Speaker) Config() bgp.Config { return s.cfg }

// Run connects to the peers and announces the routes wanted until ctx
// ends; then it closes every session with a Cease notification.
func (s *Speaker) Run(ctx context.Context) error {
	lg := &logger{log: s.log, level: gobgplog.WarnLevel}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		lg.level = gobgplog.DebugLevel
	}
	// GoBGP's Serve never returns: each Run leaves one goroutine
	// blocked on a server nothing refers to.
	srv := server.NewBgpServer(server.LoggerOption(lg))
	go srv.Serve()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        s.cfg.ASN,
		RouterId:   s.cfg.RouterID.String(),
		ListenPort: -1, // connect only
	}}); err != nil {
		return fmt.Errorf("bgp: start: %w", err)
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	if err := srv.WatchEvent(wctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, s.event); err != nil {
		srv.StopBgp(context.Background(), &api.StopBgpRequest{})
		return fmt.Errorf("bgp: watch sessions: %w", err)
	}
	for _, p := range s.cfg.Peers {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p, s.cfg)}); err != nil {
			srv.StopBgp(context.Background(), &api.StopBgpRequest{})
			return fmt.Errorf("bgp: peer %s: %w", p.Address, err)
		}
	}

	s.mu.Lock()
	s.srv = srv
	var errs []error
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), comparePrefix) {
		errs = append(errs, s.add(p, s.routes[p]))
	}
	s.mu.Unlock()
	for _, err := range errs {
		if err != nil {
			s.log.Error("cannot announce", "error", err)
		}
	}
	s.log.Info("BGP speaker started", "asn", s.cfg.ASN, "router_id", s.cfg.RouterID, "peers", len(s.cfg.Peers))

	<-ctx.Done()
	s.mu.Lock()
	s.srv = nil
	clear(s.uuids)
	s.mu.Unlock()
	// Deleting the peers sends each a Cease: the routers drop the
	// routes at once.
	if err := srv.StopBgp(context.Background(), &api.StopBgpRequest{}); err != nil {
		return fmt.Errorf("bgp: stop: %w", err)
	}
	return nil
}

// Announce announces p with pref to every peer of its family, replacing an
// announcement of p with another preference.
func (s *Speaker) Announce(p netip.Prefix, pref bgp.Pref) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.routes[p]; ok && old == pref && (s.srv == nil || s.uuids[p] != nil) {
		return nil
	}
	s.routes[p] = pref
	if s.srv == nil {
		return nil
	}
	return s.add(p, pref)
}

// add adds p to the running server; s.mu is held.
func (s *Speaker) add(p netip.Prefix, pref bgp.Pref) error {
	path, err := apiPath(p, pref, s.cfg.ASN)
	if err != nil {
		return err
	}
	resp, err := s.srv.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
	if err != nil {
		return fmt.Errorf("bgp: announce %s: %w", p, err)
	}
	s.uuids[p] = resp.Uuid
	return nil
}

// Withdraw withdraws p from every peer. Withdrawing a prefix not announced
// does nothing.
func (s *Speaker) Withdraw(p netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.routes[p]; !ok {
		return nil
	}
	delete(s.routes, p)
	s.withdrawals++
	uuid := s.uuids[p]
	delete(s.uuids, p)
	if s.srv == nil || uuid == nil {
		return nil
	}
	if err := s.srv.DeletePath(context.Background(), &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: family(p), Uuid: uuid}); err != nil {
		return fmt.Errorf("bgp: withdraw %s: %w", p, err)
	}
	return nil
}

// event follows the sessions' state changes.
func (s *Speaker) event(r *api.WatchEventResponse) {
	pe := r.GetPeer()
	if pe == nil || pe.GetPeer().GetState() == nil {
		return
	}
	st := pe.GetPeer().GetState()
	addr, err := netip.ParseAddr(st.NeighborAddress)
	if err != nil {
		return
	}
	state := stateOf(st.SessionState)
	s.mu.Lock()
	ps := s.peers[addr]
	if ps == nil || ps.State == state {
		s.mu.Unlock()
		return
	}
	old := ps.State
	ps.State, ps.Since = state, time.Now()
	if state == bgp.Established {
		ps.Ups++
	}
	s.mu.Unlock()
	switch {
	case state == bgp.Established:
		s.log.Info("BGP session established", "peer", addr, "asn", ps.ASN)
	case old == bgp.Established:
		s.log.Warn("BGP session down", "peer", addr, "asn", ps.ASN, "state", state)
	default:
		s.log.Debug("BGP session", "peer", addr, "state", state)
	}
}

// bgp.Status returns the sessions and the routes announced.
func (s *Speaker) Status() bgp.Status {
	s.mu.Lock()
	srv := s.srv
	st := bgp.Status{Running: srv != nil, ASN: s.cfg.ASN, RouterID: s.cfg.RouterID, Withdrawals: s.withdrawals}
	for _, p := range s.cfg.Peers {
		ps := *s.peers[p.Address]
		if srv == nil {
			ps.State = bgp.Idle
		}
		st.Peers = append(st.Peers, ps)
	}
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), comparePrefix) {
		st.Routes = append(st.Routes, bgp.Route{Prefix: p, Pref: s.routes[p]})
	}
	s.mu.Unlock()
	if srv == nil {
		return st
	}
	// The negotiated hold time and the routes each peer holds.
	byAddr := make(map[string]*api.Peer)
	_ = srv.ListPeer(context.Background(), &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		if p.GetConf() != nil {
			byAddr[p.GetConf().NeighborAddress] = p
		}
	})
	for i := range st.Peers {
		p := byAddr[st.Peers[i].Address.String()]
		if p == nil {
			continue
		}
		if st.Peers[i].State == bgp.Established {
			st.Peers[i].HoldTime = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
		}
		for _, af := range p.GetAfiSafis() {
			st.Peers[i].Advertised += af.GetState().GetAdvertised()
		}
	}
	return st
}

// apiPeer is the GoBGP configuration of peer p.
func apiPeer(p bgp.Peer, c bgp.Config) *api.Peer {
	hold := uint64(c.HoldTime / time.Second)
	fam := familyIPv4
	if p.Address.Is6() {
		fam = familyIPv6
	}
	ap := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          hold,
			KeepaliveInterval: max(hold/3, 1),
			// Try again soon after a failed connection or a reset:
			// a router that restarted wants the routes back.
			ConnectRetry:           1,
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
	}
	if p.Source.IsValid() {
		ap.Transport.LocalAddress = p.Source.String()
	}
	if p.Multihop > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.Multihop)}
	}
	return ap
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

func stateOf(s api.PeerState_SessionState) bgp.State {
	switch s {
	case api.PeerState_CONNECT:
		return bgp.Connect
	case api.PeerState_ACTIVE:
		return bgp.Active
	case api.PeerState_OPENSENT:
		return bgp.OpenSent
	case api.PeerState_OPENCONFIRM:
		return bgp.OpenConfirm
	case api.PeerState_ESTABLISHED:
		return bgp.Established
	}
	return bgp.Idle
}
