package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnvRequire names the environment variable that turns every skip of this
// package into a failure when it is "1".
const EnvRequire = "VIPD_REQUIRE_NETNS"

// namePrefix starts the name of every namespace a Lab creates; stale ones of
// dead test processes are recognised by it.
const namePrefix = "vipdlab-"

// cmdTimeout bounds every command the lab runs, so that a hung tool fails the
// test instead of stalling it until the go test timeout.
const cmdTimeout = time.Minute

// settleTimeout bounds the polls that wait for the kernel (link-local
// address, tcpdump start).
const settleTimeout = 10 * time.Second

// Require skips the test unless it runs as root with the ip command
// available. When EnvRequire is "1" it fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "lab: network namespaces need root")
	}
	RequireCommand(t, "ip")
}

// RequireCommand skips the test unless the named program is in PATH. When
// EnvRequire is "1" it fails the test instead.
func RequireCommand(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		skip(t, "lab: %s is not installed: %v", name, err)
	}
}

func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf(format+" (fatal because %s=1)", append(args, EnvRequire)...)
	}
	t.Skipf(format, args...)
}

// A Lab is one Ethernet segment: a bridge in a namespace of its own, to
// which Hosts are attached.
type Lab struct {
	t      testing.TB
	prefix string // start of every namespace name of this lab
	bridge string
	sw     *namespace

	mu    sync.Mutex
	hosts map[string]*Host
	next  int         // index of the next host, for port names and default MACs
	pki   *KubeadmPKI // of StartAPIServer, made at its first call

	stalls     *StarvationWatch // see Stalls
	stallsOnce sync.Once
	spaces     map[uint64]bool // inodes of the switch's and hosts' namespaces, for Starvation
}

// New creates an empty segment and registers its removal with t.Cleanup.
// It skips the test (or fails it, see Require) when the lab cannot run here.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	removeStale(t)

	// The id names the bridge; with the pid it makes the namespace names
	// unique among parallel tests and parallel test binaries.
	id := fmt.Sprintf("vl%05x", rand.IntN(1<<20))
	l := newLab(t, id, "sw")
	l.bridge = id

	// No IPv6 in the switch: the bridge and its ports need no addresses,
	// and without them they send nothing (router solicitations, MLD
	// reports) that would show up in captures.
	if err := l.sw.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		})
	}); err != nil {
		t.Fatalf("lab: configure switch namespace: %v", err)
	}
	// Multicast snooping off: the segment floods multicast like a plain
	// switch whatever MLD/IGMP the hosts send or fail to send.
	l.ip(t, "-n", l.sw.name, "link", "add", l.bridge, "type", "bridge", "mcast_snooping", "0")
	l.ip(t, "-n", l.sw.name, "link", "set", l.bridge, "up")
	return l
}

// newLab makes a lab whose namespace names start with id, with its switch
// (or router) namespace, named after sw.
func newLab(t testing.TB, id, sw string) *Lab {
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("%s%d-%s", namePrefix, os.Getpid(), id),
		hosts:  make(map[string]*Host),
		next:   1,
		spaces: make(map[uint64]bool),
	}
	l.sw = l.track(newNamespace(t, l.prefix+"-"+sw))
	return l
}

// Bridge returns the name of the bridge inside the switch namespace.
func (l *Lab) Bridge() string { return l.bridge }

// SwitchNetns returns the name of the switch namespace, as listed by
// `ip netns list`.
func (l *Lab) SwitchNetns() string { return l.sw.name }

// ip runs the ip command and fails t when it fails.
func (l *Lab) ip(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", args...)
}

// hostName is what AddHost accepts as a host name: short enough for the
// bridge port name "p<index>-<name>" to fit in 15 bytes.
var hostName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,9}$`)

// AddHost attaches a new host to the segment and configures its eth0 with
// the given addresses (prefixes such as "192.0.2.11/24" or
// "2001:db8::11/64"). The host's MAC is deterministic:
// 02:76:6c:00:00:NN with NN the number of the host in the lab, starting at 1.
// It fails the test on error.
func (l *Lab) AddHost(name string, addrs ...string) *Host {
	l.t.Helper()
	return l.AddHostMAC(name, nil, addrs...)
}

// AddHostMAC is AddHost with the MAC of eth0 given (nil means the default
// of AddHost). The MAC is set when the link is created, so the link-local
// IPv6 address is derived from it.
func (l *Lab) AddHostMAC(name string, mac net.HardwareAddr, addrs ...string) *Host {
	t := l.t
	t.Helper()
	if !hostName.MatchString(name) {
		t.Fatalf("lab: host name %q must match %s", name, hostName)
	}
	prefixes := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			t.Fatalf("lab: host %s: %v", name, err)
		}
		prefixes = append(prefixes, p)
	}

	l.mu.Lock()
	if _, ok := l.hosts[name]; ok {
		l.mu.Unlock()
		t.Fatalf("lab: host %q added twice", name)
	}
	idx := l.next
	l.next++
	h := &Host{lab: l, name: name, port: fmt.Sprintf("p%d-%s", idx, name)}
	l.hosts[name] = h
	l.mu.Unlock()

	if mac == nil {
		mac = net.HardwareAddr{0x02, 'v', 'l', 0, byte(idx >> 8), byte(idx)}
	}
	h.mac = mac
	h.ns = l.track(newNamespace(t, l.prefix+"-h-"+name))

	// Both ends are created from the switch namespace, the peer directly
	// in the host's: the namespace the tests run in is never touched.
	l.ip(t, "-n", l.sw.name, "link", "add", h.port, "type", "veth",
		"peer", "name", "eth0", "address", mac.String(), "netns", h.ns.name)
	l.ip(t, "-n", l.sw.name, "link", "set", h.port, "master", l.bridge, "up")

	// DAD off before the link comes up, so the link-local address (and
	// any address added later) is usable at once.
	if err := h.ns.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/eth0/accept_dad":    "0",
			"net/ipv6/conf/default/accept_dad": "0",
		})
	}); err != nil {
		t.Fatalf("lab: host %s: %v", name, err)
	}
	l.ip(t, "-n", h.ns.name, "link", "set", "lo", "up")
	for _, p := range prefixes {
		args := []string{"-n", h.ns.name, "addr", "add", p.String(), "dev", "eth0"}
		if p.Addr().Is6() {
			args = append(args, "nodad")
		}
		l.ip(t, args...)
	}
	l.ip(t, "-n", h.ns.name, "link", "set", "eth0", "up")
	h.waitLinkLocal(t)
	return h
}

// Host returns the host of that name, or nil.
func (l *Lab) Host(name string) *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[name]
}

// A Host is a namespace with one interface, eth0, on the lab's segment.
type Host struct {
	lab  *Lab
	name string
	port string // bridge-side end of the veth pair, in the switch namespace
	mac  net.HardwareAddr
	ns   *namespace
	wire *Wire // between eth0 and the port, if any; set under lab.mu
}

// Lab returns the lab the host is on.
func (h *Host) Lab() *Lab { return h.lab }

// Name returns the name given to AddHost.
func (h *Host) Name() string { return h.name }

// NetnsName returns the name of the host's namespace, as used by
// `ip netns exec`.
func (h *Host) NetnsName() string { return h.ns.name }

// HardwareAddr returns the MAC of the host's eth0.
func (h *Host) HardwareAddr() net.HardwareAddr { return h.mac }

// Port returns the name of the bridge port (in the switch namespace) that
// the host's eth0 is cabled to.
func (h *Host) Port() string { return h.port }

// Handle returns a netlink handle working in the host's namespace. It is
// closed by the lab's cleanup.
func (h *Host) Handle() *netlink.Handle { return h.ns.handle }

// Exec returns a command that runs name with args in the host's
// namespace. As it is how a test starts a daemon, it starts the lab's
// Stalls.
func (h *Host) Exec(ctx context.Context, name string, args ...string) *exec.Cmd {
	h.lab.Stalls()
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns.name, name}, args...)...)
}

// Run runs a command (args[0] with the rest as arguments) in the host's
// namespace and returns its combined output. It fails the test when the
// command fails.
func (h *Host) Run(t testing.TB, args ...string) string {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("lab: host %s: Run without a command", h.name)
	}
	return run(t, "ip", append([]string{"netns", "exec", h.ns.name}, args...)...)
}

// Do runs fn on an OS thread switched into the host's namespace and
// returns its error. Sockets fn opens stay in that namespace after Do
// returns; goroutines fn starts do not run in it.
func (h *Host) Do(fn func() error) error { return h.ns.do(fn) }

// Interface returns eth0 as seen inside the host's namespace.
func (h *Host) Interface(t testing.TB) *net.Interface {
	t.Helper()
	var ifi *net.Interface
	if err := h.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName("eth0")
		return err
	}); err != nil {
		t.Fatalf("lab: host %s: %v", h.name, err)
	}
	return ifi
}

// Addrs returns the addresses of the host's interface ifname.
func (h *Host) Addrs(t testing.TB, ifname string) []netip.Prefix {
	t.Helper()
	ps, err := h.addrs(ifname)
	if err != nil {
		t.Fatalf("lab: host %s: %v", h.name, err)
	}
	return ps
}

func (h *Host) addrs(ifname string) ([]netip.Prefix, error) {
	link, err := h.ns.handle.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", ifname, err)
	}
	list, err := h.ns.handle.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", ifname, err)
	}
	ps := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		ps = append(ps, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return ps, nil
}

// HasAddr reports whether the host's interface ifname has address a.
func (h *Host) HasAddr(t testing.TB, ifname string, a netip.Addr) bool {
	t.Helper()
	for _, p := range h.Addrs(t, ifname) {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// Neighbour returns the entry of the host's eth0 neighbour table for a,
// and whether there is one.
func (h *Host) Neighbour(t testing.TB, a netip.Addr) (netlink.Neigh, bool) {
	t.Helper()
	family := netlink.FAMILY_V4
	if a.Is6() {
		family = netlink.FAMILY_V6
	}
	list, err := h.ns.handle.NeighList(h.Interface(t).Index, family)
	if err != nil {
		t.Fatalf("lab: neighbours of %s: %v", h.name, err)
	}
	for _, n := range list {
		if na, ok := netip.AddrFromSlice(n.IP); ok && na.Unmap() == a {
			return n, true
		}
	}
	return netlink.Neigh{}, false
}

// SetSysctl sets a sysctl of the host's namespace: key as sysctl(8) names
// it ("net.ipv6.conf.eth0.accept_dad") or as a path under /proc/sys
// ("net/ipv6/conf/eth0.100/accept_dad", for names with dots).
func (h *Host) SetSysctl(t testing.TB, key, value string) {
	t.Helper()
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	if err := h.Do(func() error { return writeSysctls(map[string]string{key: value}) }); err != nil {
		t.Fatalf("lab: host %s: %v", h.name, err)
	}
}

// LinkDown cuts the host's cable: the bridge-side end of its veth pair goes
// down, so the host sees its eth0 lose carrier and the segment loses the
// host.
func (h *Host) LinkDown(t testing.TB) {
	t.Helper()
	if w := h.wired(); w != nil {
		w.linkDown(t)
	}
	h.lab.ip(t, "-n", h.lab.sw.name, "link", "set", h.port, "down")
}

// LinkUp reconnects the cable cut by LinkDown.
func (h *Host) LinkUp(t testing.TB) {
	t.Helper()
	h.lab.ip(t, "-n", h.lab.sw.name, "link", "set", h.port, "up")
	if w := h.wired(); w != nil {
		w.linkUp(t)
	}
}

// wired returns the host's Wire, nil if it has none.
func (h *Host) wired() *Wire {
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	return h.wire
}

// waitLinkLocal waits until eth0 has a link-local IPv6 address that is not
// tentative, so that tests can send from it at once.
func (h *Host) waitLinkLocal(t testing.TB) {
	t.Helper()
	link, err := h.ns.handle.LinkByName("eth0")
	if err != nil {
		t.Fatalf("lab: host %s: %v", h.name, err)
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		list, err := h.ns.handle.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			t.Fatalf("lab: host %s: %v", h.name, err)
		}
		for _, a := range list {
			if a.IP.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: host %s: no usable link-local address after %v: %v", h.name, settleTimeout, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A namespace is a named network namespace with an open handle and a
// netlink handle in it.
type namespace struct {
	name   string
	nsh    netns.NsHandle
	handle *netlink.Handle
	ino    uint64 // of the namespace file: what /proc/PID/ns/net of a process in it stats to
}

// track adds ns to the lab's namespaces, whose daemons a Starvation
// counts, and returns it.
func (l *Lab) track(ns *namespace) *namespace {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spaces[ns.ino] = true
	return ns
}

// newNamespace creates a named namespace and registers its removal, before
// anything else can fail.
func newNamespace(t testing.TB, name string) *namespace {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		// Deleting the namespace destroys the veth ends in it and so
		// their peers; processes or sockets still in it keep it alive
		// but unnamed.
		if out, err := command(context.Background(), "ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("lab: ip netns del %s: %v: %s", name, err, out)
		}
	})
	nsh, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("lab: open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { nsh.Close() })
	var st unix.Stat_t
	if err := unix.Fstat(int(nsh), &st); err != nil {
		t.Fatalf("lab: namespace %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("lab: netlink in namespace %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return &namespace{name: name, nsh: nsh, handle: h, ino: st.Ino}
}

// do runs fn on a locked OS thread switched into the namespace. It uses a
// goroutine of its own so the caller's thread never changes namespace; if
// switching back fails, the thread stays locked and dies with the goroutine.
func (n *namespace) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(n.nsh); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", n.name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", n.name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// writeSysctls writes /proc/sys entries. /proc/sys/net shows the namespace
// of the calling thread, so inside namespace.do it configures that
// namespace.
func writeSysctls(kv map[string]string) error {
	for k, v := range kv {
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(k, "/", "."), v, err)
		}
	}
	return nil
}

func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	return cmd
}

// run runs a command with cmdTimeout and fails t when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("lab: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// removeStale deletes the namespaces left by lab test processes that died
// without cleaning up (killed by a timeout, say). Namespaces of live
// processes, this one included, are left alone.
func removeStale(t testing.TB) {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return // none yet
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		if out, err := command(context.Background(), "ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("lab: remove stale namespace %s: %v: %s", e.Name(), err, out)
		}
	}
}
