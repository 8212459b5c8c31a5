package bgp

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
)

// Config is what a Speaker announces from: the node's AS and router ID,
// the hold time of its sessions and its peers.
type Config struct {
	ASN      uint32
	RouterID netip.Addr // an IPv4 address
	// HoldTime is offered to every peer, in whole seconds; the keepalive
	// interval is a third of it. A session uses the lower of the two
	// ends' hold times.
	HoldTime time.Duration
	Peers    []Peer
}

// Peer is one router the speaker connects to.
type Peer struct {
	Address netip.Addr
	ASN     uint32 // the node's own for iBGP
	Port    uint16 // 0 means 179
	// Password is the TCP MD5 signature key (RFC 2385); "" for none.
	Password string
	// Multihop is the TTL of eBGP packets for a peer that is not
	// directly connected; 0 sends them with TTL 1.
	Multihop uint8
	// Source is the local address of the session; zero lets the kernel
	// choose.
	Source netip.Addr
}

// External reports whether the session is eBGP.
func (p Peer) External(asn uint32) bool { return p.ASN != asn }

// State is the state of a BGP session (RFC 4271, 8.2.2).
type State int

const (
	Idle State = iota
	Connect
	Active
	OpenSent
	OpenConfirm
	Established
)

func (s State) String() string {
	switch s {
	case Idle:
		return "Idle"
	case Connect:
		return "Connect"
	case Active:
		return "Active"
	case OpenSent:
		return "OpenSent"
	case OpenConfirm:
		return "OpenConfirm"
	case Established:
		return "Established"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

func stateOf(s api.PeerState_SessionState) State {
	switch s {
	case api.PeerState_CONNECT:
		return Connect
	case api.PeerState_ACTIVE:
		return Active
	case api.PeerState_OPENSENT:
		return OpenSent
	case api.PeerState_OPENCONFIRM:
		return OpenConfirm
	case api.PeerState_ESTABLISHED:
		return Established
	}
	return Idle
}

// Route is a prefix the node announces, with its preference.
type Route struct {
	Prefix netip.Prefix
	Pref   Pref
}

// PeerStatus is one session as Status reports it.
type PeerStatus struct {
	Address netip.Addr
	ASN     uint32
	State   State
	// Since is when the session last changed state; zero before the
	// first change.
	Since time.Time
	// HoldTime is the negotiated hold time of an established session.
	HoldTime time.Duration
	// Advertised is how many routes the peer was sent and holds.
	Advertised uint64
	// Ups counts the times the session was established.
	Ups uint64
}

// Status is a snapshot of a Speaker.
type Status struct {
	Running bool
	ASN     uint32
	// RouterID is the speaker's router ID.
	RouterID netip.Addr
	Peers    []PeerStatus // in the order configured
	Routes   []Route      // announced, by prefix
	// Withdrawals counts the routes withdrawn since the speaker was
	// made.
	Withdrawals uint64
}

// Speaker announces routes to the configured peers with GoBGP.
type Speaker struct {
	cfg Config
	log *slog.Logger

	mu          sync.Mutex
	srv         *server.BgpServer // nil while Run does not run
	routes      map[netip.Prefix]Pref
	uuids       map[netip.Prefix][]byte // GoBGP's handles of the paths added
	peers       map[netip.Addr]*PeerStatus
	withdrawals uint64
}

// New returns a speaker for cfg; it connects to nothing until Run. A nil
// logger discards.
func New(cfg Config, log *slog.Logger) *Speaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Speaker{
		cfg:    cfg,
		log:    log,
		routes: make(map[netip.Prefix]Pref),
		uuids:  make(map[netip.Prefix][]byte),
		peers:  make(map[netip.Addr]*PeerStatus),
	}
	for _, p := range cfg.Peers {
		s.peers[p.Address] = &PeerStatus{Address: p.Address, ASN: p.ASN}
	}
	return s
}

// Config returns the configuration the speaker was made with.
func (s *Speaker) Config() Config { return s.cfg }

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
func (s *Speaker) Announce(p netip.Prefix, pref Pref) error {
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
func (s *Speaker) add(p netip.Prefix, pref Pref) error {
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
	if state == Established {
		ps.Ups++
	}
	s.mu.Unlock()
	switch {
	case state == Established:
		s.log.Info("BGP session established", "peer", addr, "asn", ps.ASN)
	case old == Established:
		s.log.Warn("BGP session down", "peer", addr, "asn", ps.ASN, "state", state)
	default:
		s.log.Debug("BGP session", "peer", addr, "state", state)
	}
}

// Status returns the sessions and the routes announced.
func (s *Speaker) Status() Status {
	s.mu.Lock()
	srv := s.srv
	st := Status{Running: srv != nil, ASN: s.cfg.ASN, RouterID: s.cfg.RouterID, Withdrawals: s.withdrawals}
	for _, p := range s.cfg.Peers {
		ps := *s.peers[p.Address]
		if srv == nil {
			ps.State = Idle
		}
		st.Peers = append(st.Peers, ps)
	}
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), comparePrefix) {
		st.Routes = append(st.Routes, Route{Prefix: p, Pref: s.routes[p]})
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
		if st.Peers[i].State == Established {
			st.Peers[i].HoldTime = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
		}
		for _, af := range p.GetAfiSafis() {
			st.Peers[i].Advertised += af.GetState().GetAdvertised()
		}
	}
	return st
}

// apiPeer is the GoBGP configuration of peer p.
func apiPeer(p Peer, c Config) *api.Peer {
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
