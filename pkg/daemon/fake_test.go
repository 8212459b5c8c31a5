package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// fakeNet is a segment: what the VRRP socket of one fake host sends
// reaches the sockets of the same family of the others, with TTL 255.
type fakeNet struct {
	mu    sync.Mutex
	hosts []*fakeHost
}

// fakeHost is a System: a host with interfaces on a fakeNet. It keeps a
// journal of what the daemon did to it, in order, for the tests to
// compare.
type fakeHost struct {
	net  *fakeNet
	addr netip.Addr // its IPv4 address on every interface

	mu      sync.Mutex
	ifaces  map[string]*net.Interface
	bound   map[netip.Prefix]bool
	boundOn map[netip.Prefix]int // the interface index of each bound prefix
	// announced are the addresses announced on each interface.
	announced map[string][]netip.Addr
	conns     []*fakeConn
	events    *fakeEvents
	monitor   *fakeMonitor
	// fail makes the named step fail: "source", "vrrp", "announcer",
	// "monitor".
	fail    map[string]error
	journal []string
	// lost names the interfaces whose adverts are lost on the way out.
	lost map[string]bool
}

var _ System = (*fakeHost)(nil)

// host returns a new host on n with eth0 (index 2) at addr.
func (n *fakeNet) host(addr string) *fakeHost {
	h := &fakeHost{
		net:    n,
		addr:   netip.MustParseAddr(addr),
		ifaces: map[string]*net.Interface{"eth0": {Index: 2, Name: "eth0", Flags: net.FlagUp}},
		bound:  make(map[netip.Prefix]bool),
		fail:   make(map[string]error),

		boundOn:   make(map[netip.Prefix]int),
		announced: make(map[string][]netip.Addr),
	}
	n.mu.Lock()
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	return h
}

func (h *fakeHost) note(format string, args ...any) {
	h.mu.Lock()
	h.journal = append(h.journal, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// notes returns the journal entries that start with one of prefixes.
func (h *fakeHost) notes(prefixes ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.journal {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e, p) }) {
			out = append(out, e)
		}
	}
	return out
}

func (h *fakeHost) failing(step string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fail[step]
}

func (h *fakeHost) setFail(step string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.fail, step)
	} else {
		h.fail[step] = err
	}
}

// lose makes the adverts the host sends on ifname lost, or no longer.
func (h *fakeHost) lose(ifname string, lost bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost == nil {
		h.lost = make(map[string]bool)
	}
	h.lost[ifname] = lost
}

// holds reports whether p is bound on the host.
func (h *fakeHost) holds(p netip.Prefix) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bound[p]
}

// openConns returns how many VRRP sockets are open.
func (h *fakeHost) openConns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.conns {
		if !c.isClosed() {
			n++
		}
	}
	return n
}

// addIface adds an interface, and tells the daemon as the kernel would.
func (h *fakeHost) addIface(name string, index int) {
	h.mu.Lock()
	h.ifaces[name] = &net.Interface{Index: index, Name: name, Flags: net.FlagUp}
	h.mu.Unlock()
	h.event(Event{Link: true})
}

// event hands the daemon a kernel event, if it follows them.
func (h *fakeHost) event(e Event) {
	h.mu.Lock()
	ev := h.events
	h.mu.Unlock()
	if ev != nil {
		ev.send(e)
	}
}

func (h *fakeHost) Interface(name string) (*net.Interface, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ifi, ok := h.ifaces[name]; ok {
		return ifi, nil
	}
	return nil, &net.OpError{Op: "route", Net: "ip+net", Err: errors.New("no such network interface")}
}

func (h *fakeHost) LinkLocal(ifi *net.Interface) (netip.Addr, error) {
	if err := h.failing("source"); err != nil {
		return netip.Addr{}, err
	}
	a := h.addr.As4()
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 15: a[3]}), nil
}

func (h *fakeHost) PrimaryIPv4(ifi *net.Interface, exclude func(netip.Addr) bool) (netip.Addr, error) {
	if err := h.failing("source"); err != nil {
		return netip.Addr{}, err
	}
	return h.addr, nil
}

func (h *fakeHost) OpenAddrs() (Addrs, error) { return fakeAddrs{h}, nil }

func (h *fakeHost) DialVRRP(ifi *net.Interface, ipv6 bool) (Conn, error) {
	if err := h.failing("vrrp"); err != nil {
		return nil, err
	}
	c := &fakeConn{host: h, key: sockKey{ifi.Name, ipv6}, in: make(chan fakePacket, 256), deadline: make(chan struct{})}
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	h.note("open %v", c.key)
	return c, nil
}

func (h *fakeHost) DialAnnouncer(ifi *net.Interface) (Announcer, error) {
	if err := h.failing("announcer"); err != nil {
		return nil, err
	}
	h.note("open announcer %s", ifi.Name)
	return fakeAnnouncer{h, ifi.Name}, nil
}

func (h *fakeHost) Subscribe() (Events, error) {
	ev := &fakeEvents{host: h, ch: make(chan Event, 16), closed: make(chan struct{})}
	h.mu.Lock()
	h.events = ev
	h.mu.Unlock()
	h.note("subscribe")
	return ev, nil
}

func (h *fakeHost) NewMonitor(specs []health.Spec, cfg health.MonitorConfig) (Monitor, error) {
	if err := h.failing("monitor"); err != nil {
		return nil, err
	}
	m := &fakeMonitor{host: h, states: make(map[string]health.State), changes: make(chan struct{}, 1)}
	for _, s := range specs {
		m.states[s.Name] = health.Healthy
	}
	for _, l := range cfg.Links {
		m.states[health.LinkCheckName(l)] = health.Healthy
	}
	for name, st := range cfg.Seed {
		m.states[name] = st.State
	}
	h.mu.Lock()
	h.monitor = m
	h.mu.Unlock()
	return m, nil
}

func (h *fakeHost) Sleeper() router.Sleeper { return nil }

// checks returns the last monitor made.
func (h *fakeHost) checks() *fakeMonitor {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.monitor
}

// fakeAddrs is the host's address manager.
type fakeAddrs struct{ h *fakeHost }

func (a fakeAddrs) Add(ifindex int, p netip.Prefix, _ string) error {
	a.h.mu.Lock()
	a.h.bound[p] = true
	a.h.boundOn[p] = ifindex
	a.h.mu.Unlock()
	a.h.note("add %v", p)
	return nil
}

func (a fakeAddrs) Remove(ifindex int, p netip.Prefix) error {
	a.h.mu.Lock()
	if a.h.boundOn[p] != ifindex {
		a.h.mu.Unlock()
		return fmt.Errorf("fake: remove %v from interface %d: it is on %d", p, ifindex, a.h.boundOn[p])
	}
	delete(a.h.bound, p)
	delete(a.h.boundOn, p)
	a.h.mu.Unlock()
	a.h.note("remove %v", p)
	return nil
}

func (a fakeAddrs) List(ifindex int) ([]netip.Prefix, error) {
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	var out []netip.Prefix
	for p := range a.h.bound {
		if a.h.boundOn[p] == ifindex {
			out = append(out, p)
		}
	}
	return out, nil
}

func (fakeAddrs) Demote(int, func(netip.Addr) bool) ([]netip.Prefix, error) { return nil, nil }
func (fakeAddrs) Warm()                                                     {}
func (fakeAddrs) ForgetUnresolved(int, bool) (int, error)                   { return 0, nil }
func (a fakeAddrs) Close()                                                  { a.h.note("close addrs") }

type fakeAnnouncer struct {
	h      *fakeHost
	ifname string
}

func (a fakeAnnouncer) Announce(addrs []netip.Addr) error {
	a.h.mu.Lock()
	a.h.announced[a.ifname] = append(a.h.announced[a.ifname], addrs...)
	a.h.mu.Unlock()
	a.h.note("announce %v", addrs)
	return nil
}

func (a fakeAnnouncer) Close() error {
	a.h.note("close announcer %s", a.ifname)
	return nil
}

type fakePacket struct {
	b []byte
	p router.Packet
}

// fakeConn is a VRRP socket on the host's segment.
type fakeConn struct {
	host *fakeHost
	key  sockKey
	in   chan fakePacket

	mu       sync.Mutex
	deadline chan struct{}
	closed   bool
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *fakeConn) WriteTo(b []byte, src, dst netip.Addr) error {
	var a vrrp.Advert
	if err := a.Unmarshal(b, src, dst); err != nil {
		return err
	}
	if c.isClosed() {
		return net.ErrClosed
	}
	c.host.note("advert vrid %d priority %d", a.VRID, a.Priority)
	c.host.mu.Lock()
	lost := c.host.lost[c.key.ifname]
	c.host.mu.Unlock()
	if lost {
		return nil
	}
	n := c.host.net
	n.mu.Lock()
	hosts := slices.Clone(n.hosts)
	n.mu.Unlock()
	for _, o := range hosts {
		if o == c.host {
			continue
		}
		o.mu.Lock()
		conns := slices.Clone(o.conns)
		o.mu.Unlock()
		for _, oc := range conns {
			if oc.key == c.key && !oc.isClosed() {
				oc.in <- fakePacket{slices.Clone(b), router.Packet{Src: src, Dst: dst, TTL: 255}}
			}
		}
	}
	return nil
}

func (c *fakeConn) ReadEach(handle func([]byte, router.Packet)) error {
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	for {
		select {
		case p := <-c.in:
			handle(p.b, p.p)
		case <-dl:
			return os.ErrDeadlineExceeded
		}
	}
}

func (c *fakeConn) SetReadDeadline(time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.deadline:
	default:
		close(c.deadline)
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.host.note("close %v", c.key)
	return nil
}

// fakeEvents are the host's link and address events.
type fakeEvents struct {
	host      *fakeHost
	ch        chan Event
	closeOnce sync.Once
	closed    chan struct{}
}

func (e *fakeEvents) send(ev Event) {
	select {
	case e.ch <- ev:
	case <-e.closed:
	}
}

func (e *fakeEvents) Receive() ([]Event, error) {
	select {
	case ev := <-e.ch:
		return []Event{ev}, nil
	case <-e.closed:
		return nil, net.ErrClosed
	}
}

func (e *fakeEvents) Close() error {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.host.note("events closed")
	})
	return nil
}

// fakeMonitor reports the states a test sets; every check and link is
// healthy at first, or as seeded.
type fakeMonitor struct {
	host    *fakeHost
	mu      sync.Mutex
	states  map[string]health.State
	changes chan struct{}
}

func (m *fakeMonitor) Run(ctx context.Context) error {
	m.host.note("checks started")
	<-ctx.Done()
	m.host.note("checks stopped")
	return nil
}

func (m *fakeMonitor) Changes() <-chan struct{} { return m.changes }

func (m *fakeMonitor) States() map[string]health.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.states)
}

func (m *fakeMonitor) Snapshot() map[string]health.Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]health.Status, len(m.states))
	for name, st := range m.states {
		out[name] = health.Status{Name: name, State: st}
	}
	return out
}

// set sets a check's state and tells the daemon.
func (m *fakeMonitor) set(name string, st health.State) {
	m.mu.Lock()
	m.states[name] = st
	m.mu.Unlock()
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// errNoAddress is what a host without the address asked for says.
var errNoAddress = fmt.Errorf("fake: %w", netif.ErrNoAddress)
