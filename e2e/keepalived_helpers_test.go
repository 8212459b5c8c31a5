package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// envRequireKeepalived turns a missing keepalived into a failure instead of
// a skip when it is "1", so that CI cannot pass without the interop tests.
const envRequireKeepalived = "VIPD_REQUIRE_KEEPALIVED"

// requireKeepalived returns the path of keepalived, skipping the test when
// it is not installed (failing it when envRequireKeepalived is "1").
func requireKeepalived(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("keepalived")
	if err != nil {
		// root's PATH has /usr/sbin, but sudo -E or a CI runner may not.
		if _, serr := os.Stat("/usr/sbin/keepalived"); serr == nil {
			return "/usr/sbin/keepalived"
		}
		if os.Getenv(envRequireKeepalived) == "1" {
			t.Fatalf("keepalived is not installed: %v (fatal because %s=1)", err, envRequireKeepalived)
		}
		t.Skipf("keepalived is not installed: %v", err)
	}
	return path
}

// mode is one way of running a virtual router, the same on both sides.
type mode struct {
	name     string
	version  uint8
	interval time.Duration
	vip      netip.Prefix
	password string // VRRPv2 simple password, "" for none
	unicast  bool   // adverts to the peers' IPv4 addresses
}

func (m mode) ipv6() bool { return m.vip.Addr().Is6() }

// modes are the four ways the interop tests run. VRRPv3 runs at 100ms so
// that a failover takes a third of a second; VRRPv2 counts in whole seconds.
var modes = []mode{
	{name: "v3-ipv4", version: 3, interval: 100 * time.Millisecond, vip: netip.MustParsePrefix("192.0.2.100/24")},
	{name: "v3-ipv6", version: 3, interval: 100 * time.Millisecond, vip: netip.MustParsePrefix("2001:db8::100/64")},
	{name: "v2-pass", version: 2, interval: time.Second, vip: netip.MustParsePrefix("192.0.2.100/24"), password: "s3cret"},
	{name: "v3-unicast", version: 3, interval: 100 * time.Millisecond, vip: netip.MustParsePrefix("192.0.2.100/24"), unicast: true},
}

// vrid is the virtual router of every interop test; each test has a
// segment of its own.
const vrid = 51

// node is one router of an interop test.
type node struct {
	host *lab.Host
	ip4  netip.Addr // 192.0.2.N
	ll   netip.Addr // fe80::76:6cff:fe00:N, from the MAC 02:76:6c:00:00:N
}

// addNode adds host name with the IPv4 address 192.0.2.n and 2001:db8::n,
// and a MAC ending in n, so that the link-local addresses, which IPv6
// adverts come from and elections compare, sort like the IPv4 ones.
func addNode(t testing.TB, l *lab.Lab, name string, n byte) node {
	t.Helper()
	mac := net.HardwareAddr{0x02, 'v', 'l', 0, 0, n}
	h := l.AddHostMAC(name, mac, fmt.Sprintf("192.0.2.%d/24", n), fmt.Sprintf("2001:db8::%d/64", n))
	nd := node{host: h, ip4: netip.AddrFrom4([4]byte{192, 0, 2, n})}
	for _, p := range h.Addrs(t, "eth0") {
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			nd.ll = p.Addr()
		}
	}
	if !nd.ll.IsValid() {
		t.Fatalf("host %s has no link-local address", name)
	}
	return nd
}

// src is the source address of n's adverts in mode m.
func (n node) src(m mode) netip.Addr {
	if m.ipv6() {
		return n.ll
	}
	return n.ip4
}

// hostsOf returns the lab hosts of nodes.
func hostsOf(nodes ...node) []*lab.Host {
	hs := make([]*lab.Host, len(nodes))
	for i, n := range nodes {
		hs[i] = n.host
	}
	return hs
}

// peersOf returns the IPv4 addresses of the nodes other than self.
func peersOf(self node, nodes []node) []string {
	var out []string
	for _, n := range nodes {
		if n.ip4 != self.ip4 {
			out = append(out, n.ip4.String())
		}
	}
	return out
}

// vipdFile writes the configuration of a vipd node in mode m at the given
// priority, keepalived style (no [cluster]), and returns its path. all are
// every router of the virtual router, self included, for unicast peers;
// extra is appended to the instance (track = ..., [[check]] tables).
func vipdFile(t testing.TB, m mode, self node, all []node, priority int, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(daemonTable)
	b.WriteString("log_level = \"debug\"\n")
	fmt.Fprintf(&b, "[[instance]]\nname = \"api\"\nvrid = %d\ninterface = \"eth0\"\n", vrid)
	fmt.Fprintf(&b, "version = %d\nadvert_interval = %q\npriority = %d\n", m.version, m.interval, priority)
	fmt.Fprintf(&b, "vips = [%q]\ngarp_repeat = 5\n", m.vip)
	if m.password != "" {
		fmt.Fprintf(&b, "auth_password = %q\n", m.password)
	}
	if m.unicast {
		fmt.Fprintf(&b, "unicast_source = %q\nunicast_peers = [%s]\n", self.ip4, quoteAll(peersOf(self, all)))
	}
	b.WriteString(extra + "\n")
	return writeConfig(t, b.String())
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// keepalivedConf returns a keepalived.conf for a router in mode m at the
// given priority. It starts in BACKUP (keepalived's own advice: every node
// BACKUP, the priorities decide) and preempts (keepalived's default).
func keepalivedConf(m mode, self node, all []node, priority int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global_defs {
	router_id %s
	vrrp_version %d
	# One burst of gratuitous ARPs at the transition, no second one later.
	vrrp_garp_master_delay 0
	vrrp_garp_master_repeat 5
}
vrrp_instance api {
	state BACKUP
	interface eth0
	virtual_router_id %d
	priority %d
	advert_int %g
`, self.host.Name(), m.version, vrid, priority, m.interval.Seconds())
	if m.password != "" {
		fmt.Fprintf(&b, "\tauthentication {\n\t\tauth_type PASS\n\t\tauth_pass %s\n\t}\n", m.password)
	}
	if m.unicast {
		fmt.Fprintf(&b, "\tunicast_src_ip %v\n\tunicast_peer {\n\t\t%s\n\t}\n", self.ip4, strings.Join(peersOf(self, all), "\n\t\t"))
	}
	fmt.Fprintf(&b, "\tvirtual_ipaddress {\n\t\t%v\n\t}\n}\n", m.vip)
	return b.String()
}

// keepalived is one keepalived process tree running in a lab host.
type keepalived struct {
	t    testing.TB
	host *lab.Host
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

// startKeepalived runs keepalived (VRRP subsystem only, in the foreground,
// logging in detail to the console and not to syslog) with conf in host n.
// It is killed at cleanup if the test did not stop it, and its log is shown
// when the test fails.
func startKeepalived(t testing.TB, n node, conf string) *keepalived {
	t.Helper()
	return launchKeepalived(t, n, conf, false)
}

// startKeepalivedTracking is startKeepalived for a file that tracks
// processes: keepalived starts in the initial network namespace, where
// alone the kernel's process connector answers, opens it there and then
// enters n's namespace (keepalived --namespace, its net_namespace), as
// keepalived's documentation has it for namespaces. The file itself is
// unchanged.
func startKeepalivedTracking(t testing.TB, n node, conf string) *keepalived {
	t.Helper()
	return launchKeepalived(t, n, conf, true)
}

func launchKeepalived(t testing.TB, n node, conf string, setns bool) *keepalived {
	t.Helper()
	bin := requireKeepalived(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Own pid files, or keepalived refuses to start next to another one.
	args := []string{"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", file,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid")}
	cmd := n.host.Exec(context.Background(), bin, args...)
	if setns {
		ns := n.host.NetnsName()
		// keepalived makes a directory of its own for the namespace.
		runDir := filepath.Join("/run/keepalived", ns)
		if _, err := os.Stat(runDir); err == nil {
			t.Fatalf("%s exists already", runDir)
		}
		t.Cleanup(func() { os.RemoveAll(runDir) })
		cmd = exec.Command(bin, append([]string{"--namespace", ns}, args...)...)
	}
	// Its own process group: keepalived forks its VRRP process, and a
	// crash must kill both at once (killed alone, the parent's death makes
	// the child stop gracefully).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	k := &keepalived{t: t, host: n.host, cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = k.log, k.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keepalived on %s: %v", n.host.Name(), err)
	}
	go func() { k.done <- cmd.Wait() }()
	t.Cleanup(func() {
		k.kill()
		if t.Failed() {
			t.Logf("keepalived.conf of %s:\n%s\nlog of keepalived on %s:\n%s", n.host.Name(), conf, n.host.Name(), k.log.String())
		}
	})
	return k
}

// stop sends SIGTERM, on which keepalived resigns with a priority-0 advert,
// and returns the exit error.
func (k *keepalived) stop() error {
	k.t.Helper()
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-k.done:
		k.done <- err
		return err
	case <-time.After(10 * time.Second):
		k.t.Fatalf("keepalived on %s did not stop within 10s", k.host.Name())
		return nil
	}
}

// kill kills keepalived and its children with SIGKILL, like a crash, and
// waits for the parent to go.
func (k *keepalived) kill() {
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	err := <-k.done
	k.done <- err
}

var kaState = regexp.MustCompile(`\(api\) Entering (MASTER|BACKUP|FAULT) STATE`)

// state returns the state keepalived last logged entering, "" if none.
func (k *keepalived) state() string {
	m := kaState.FindAllStringSubmatch(k.log.String(), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// kaRejects are the messages keepalived 2.2.7 logs when it rejects an
// advert (vrrp_in_chk), from `strings /usr/sbin/keepalived`.
var kaRejects = []string{
	"vrrp packet too ",
	"invalid TTL/HL",
	"wrong version",
	" auth, expecting ",
	"received an invalid passwd",
	"advertisement interval mismatch",
	"Invalid packet type",
	"unexpected ip number count",
	"ip_tot_len mismatch",
	"icast packet but received",
	" VIPs but received ",
	"not present in MASTER advert",
	"not a unicast peer",
	"not in range",
	"Invalid VRRPv3 checksum",
	"Invalid VRRPv2 checksum",
}

// rejects returns the lines in which keepalived rejected an advert.
func (k *keepalived) rejects() []string {
	var out []string
	for _, line := range strings.Split(k.log.String(), "\n") {
		if slices.ContainsFunc(kaRejects, func(r string) bool { return strings.Contains(line, r) }) {
			out = append(out, line)
		}
	}
	return out
}

// status returns vipd's view of its instance.
func (p *proc) status(t testing.TB) control.Instance {
	t.Helper()
	in, err := p.instance()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// instance returns vipd's view of its instance, or why it could not.
func (p *proc) instance() (control.Instance, error) {
	out, err := p.vipctl("status", "-o", "json")
	if err != nil {
		return control.Instance{}, fmt.Errorf("vipctl status on %s: %w\n%s", p.host.Name(), err, out)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return control.Instance{}, fmt.Errorf("vipctl status -o json on %s: %w\n%s", p.host.Name(), err, out)
	}
	if len(st.Instances) != 1 {
		return control.Instance{}, fmt.Errorf("vipd on %s runs %d virtual routers, want 1", p.host.Name(), len(st.Instances))
	}
	return st.Instances[0], nil
}

// checkNoDrops fails the test when vipd rejected an advert: every advert
// of keepalived must pass vipd's checks (checksum, TTL, version, password,
// interval, address list, peers). Its own adverts looped back are dropped
// by design, and a full queue ("backlog") says nothing about the advert;
// those are only logged.
func checkNoDrops(t testing.TB, p *proc) {
	t.Helper()
	in := p.status(t)
	for reason, n := range in.Counters.Dropped {
		switch {
		case n == 0 || reason == "own":
		case reason == "backlog":
			t.Logf("vipd on %s dropped %d adverts because its queue was full", p.host.Name(), n)
		default:
			t.Errorf("vipd on %s dropped %d adverts for %q (counters %+v)", p.host.Name(), n, reason, in.Counters)
		}
	}
}

// checkKeepalivedAccepted fails the test when keepalived rejected adverts.
func checkKeepalivedAccepted(t testing.TB, k *keepalived) {
	t.Helper()
	if c := k.rejects(); len(c) != 0 {
		t.Errorf("keepalived on %s rejected adverts:\n%s", k.host.Name(), strings.Join(c, "\n"))
	}
}

// frame is one frame of a capture as tshark decodes it: an independent
// decoder of what went on the wire. Fields absent from the frame are "".
type frame struct {
	num      string
	at       time.Time
	mac      string // Ethernet source
	src, dst string // IPv4 or IPv6 addresses
	ttl      string // TTL or hop limit
	// VRRP fields; vrrp tells whether the frame is an advert.
	vrrp                                 bool
	version, typ, vrid, prio, count, ivl string
	addrs, checksum, authType, password  string
	// announced is the address a gratuitous ARP or an unsolicited
	// neighbour advertisement announces.
	announced string
}

// decodeFields are the tshark fields of a frame, in the order decode
// reads them.
var decodeFields = []string{
	"frame.number", "frame.time_epoch", "eth.src", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.ttl", "ipv6.hlim",
	"vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count", "vrrp.adver_int", "vrrp.short_adver_int",
	"vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.checksum.status", "vrrp.auth_type", "vrrp.auth_string",
	"arp.isgratuitous", "arp.src.proto_ipv4", "icmpv6.type", "icmpv6.nd.na.target_address",
}

// decode runs tshark once over the capture and returns its frames.
func decode(t testing.TB, pcap string) []frame {
	t.Helper()
	args := []string{"-r", pcap, "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range decodeFields {
		args = append(args, "-e", f)
	}
	var stderr strings.Builder
	cmd := exec.Command("tshark", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var frames []frame
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		v := strings.Split(line, "\t")
		if len(v) != len(decodeFields) {
			t.Fatalf("tshark printed %d fields, want %d: %q", len(v), len(decodeFields), line)
		}
		or := func(a, b string) string {
			if a != "" {
				return a
			}
			return b
		}
		f := frame{
			num: v[0], at: epoch(t, v[1]), mac: v[2],
			src: or(v[3], v[4]), dst: or(v[5], v[6]), ttl: or(v[7], v[8]),
			vrrp: v[9] != "", version: v[9], typ: v[10], vrid: v[11], prio: v[12], count: v[13],
			ivl: or(v[14], v[15]), addrs: or(v[16], v[17]), checksum: v[18], authType: v[19], password: v[20],
		}
		switch {
		case v[21] == "1":
			f.announced = v[22]
		case v[23] == "136":
			f.announced = v[24]
		}
		frames = append(frames, f)
	}
	return frames
}

// A match selects frames.
type match func(frame) bool

// advertsFrom selects n's adverts.
func advertsFrom(m mode, n node) match {
	src := n.src(m).String()
	return func(f frame) bool { return f.vrrp && f.src == src }
}

// heardBy narrows a selection of adverts to those that reach n: in unicast
// mode those addressed to it, else all of them (multicast). A unicast
// sender resolves each peer's MAC on its own, so its adverts can reach one
// peer before the other.
func heardBy(m mode, sel match, n node) match {
	if !m.unicast {
		return sel
	}
	dst := n.ip4.String()
	return func(f frame) bool { return sel(f) && f.dst == dst }
}

// withPrio narrows a selection of adverts to those of priority p.
func withPrio(sel match, p int) match {
	want := fmt.Sprint(p)
	return func(f frame) bool { return sel(f) && f.prio == want }
}

// nonZero narrows a selection of adverts to those of a non-zero priority.
func nonZero(sel match) match {
	return func(f frame) bool { return sel(f) && f.prio != "0" }
}

// announcesFrom selects n's announcements of the VIP: gratuitous ARPs, or
// unsolicited neighbour advertisements for IPv6.
func announcesFrom(m mode, n node) match {
	mac, vip := n.host.HardwareAddr().String(), m.vip.Addr().String()
	return func(f frame) bool { return f.mac == mac && f.announced == vip }
}

// capture is a decoded capture.
type capture struct {
	t      testing.TB
	path   string
	frames []frame
}

func decodeCapture(t testing.TB, pcap string) *capture {
	t.Helper()
	showOnFailure(t, pcap)
	return &capture{t: t, path: pcap, frames: decode(t, pcap)}
}

// all returns the frames sel selects.
func (c *capture) all(sel match) []frame {
	var out []frame
	for _, f := range c.frames {
		if sel(f) {
			out = append(out, f)
		}
	}
	return out
}

// firstAfter returns the time of the first frame sel selects after
// after, failing the test when there is none.
func (c *capture) firstAfter(what string, sel match, after time.Time) time.Time {
	c.t.Helper()
	for _, f := range c.frames {
		if f.at.After(after) && sel(f) {
			return f.at
		}
	}
	c.t.Fatalf("no %s after %s in %s", what, after.Format("15:04:05.000000"), c.path)
	return time.Time{}
}

// lastBefore returns the time of the last frame sel selects before before,
// failing the test when there is none.
func (c *capture) lastBefore(what string, sel match, before time.Time) time.Time {
	c.t.Helper()
	for i := len(c.frames) - 1; i >= 0; i-- {
		if f := c.frames[i]; f.at.Before(before) && sel(f) {
			return f.at
		}
	}
	c.t.Fatalf("no %s before %s in %s", what, before.Format("15:04:05.000000"), c.path)
	return time.Time{}
}

// last returns the last frame sel selects before before.
func (c *capture) last(sel match, before time.Time) (frame, bool) {
	for i := len(c.frames) - 1; i >= 0; i-- {
		if f := c.frames[i]; f.at.Before(before) && sel(f) {
			return f, true
		}
	}
	return frame{}, false
}

// A stepDown is an advert that followed a priority-0 advert, the sender
// having taken it for the master resigning.
type stepDown struct{ advert, zero frame }

// afterStepDown sorts the adverts of a non-zero priority that the routers
// others sent after after (when master had taken over) into those that
// followed a priority-0 advert sent after after by another router (one
// stepping down) and heard later than master's last advert, and the rest.
func (c *capture) afterStepDown(m mode, master node, others []node, after time.Time) (explained []stepDown, rest []frame) {
	for _, o := range others {
		self := o.src(m).String()
		fromMaster := heardBy(m, nonZero(advertsFrom(m, master)), o)
		zero := heardBy(m, func(f frame) bool { return f.vrrp && f.prio == "0" && f.src != self && f.at.After(after) }, o)
		for _, f := range c.all(nonZero(advertsFrom(m, o))) {
			if !f.at.After(after) {
				continue
			}
			z, ok := c.last(zero, f.at)
			lm, _ := c.last(fromMaster, f.at)
			if ok && z.at.After(lm.at) {
				explained = append(explained, stepDown{f, z})
			} else {
				rest = append(rest, f)
			}
		}
	}
	return explained, rest
}

// checkWire checks every advert of the capture for what both
// implementations must agree on: version, type, VRID, interval, password,
// address list, TTL or hop limit 255, destination, and a checksum that
// tshark verifies itself.
func (c *capture) checkWire(m mode, nodes []node) {
	t := c.t
	t.Helper()
	adverts := c.all(func(f frame) bool { return f.vrrp })
	if len(adverts) == 0 {
		t.Fatalf("no VRRP advert in %s", c.path)
	}
	ivl := int(m.interval / (10 * time.Millisecond)) // VRRPv3: centiseconds
	if m.version == 2 {
		ivl = int(m.interval / time.Second)
	}
	group := "224.0.0.18"
	if m.ipv6() {
		group = "ff02::12"
	}
	bad := 0
	for _, f := range adverts {
		var why []string
		field := func(name, got, want string) {
			if got != want {
				why = append(why, fmt.Sprintf("%s %q, want %q", name, got, want))
			}
		}
		field("version", f.version, fmt.Sprint(m.version))
		field("type", f.typ, "1")
		field("vrid", f.vrid, fmt.Sprint(vrid))
		field("interval", f.ivl, fmt.Sprint(ivl))
		field("address count", f.count, "1")
		field("addresses", f.addrs, m.vip.Addr().String())
		field("checksum status", f.checksum, "1") // 1 is Good
		field("ttl", f.ttl, "255")
		if m.unicast {
			if f.dst == f.src || !slices.ContainsFunc(nodes, func(n node) bool { return n.ip4.String() == f.dst }) {
				why = append(why, "destination "+f.dst+", not a peer")
			}
		} else {
			field("destination", f.dst, group)
		}
		if m.version == 2 {
			field("auth type", f.authType, "1")
			field("password", f.password, m.password)
		}
		if len(why) != 0 {
			bad++
			if bad <= 5 {
				t.Errorf("advert %s from %s: %s", f.num, f.src, strings.Join(why, ", "))
			}
		}
	}
	if bad != 0 {
		t.Errorf("%d of %d adverts wrong on the wire (decoded by tshark from %s)", bad, len(adverts), c.path)
	}
}

// watch samples the holders of vip every 5ms until want has been the only
// holder for hold, and returns the longest span during which more than one
// host held it and when want became the only holder. It fails the test
// after timeout.
func watch(t testing.TB, timeout, hold time.Duration, vip netip.Addr, want string, hosts ...*lab.Host) (overlap time.Duration, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var bothFrom time.Time
	var got []string
	for {
		now := time.Now()
		got = holders(t, vip, hosts...)
		switch {
		case len(got) > 1:
			if bothFrom.IsZero() {
				bothFrom = now
			}
			overlap = max(overlap, now.Sub(bothFrom))
			since = time.Time{}
		case len(got) == 1 && got[0] == want:
			bothFrom = time.Time{}
			if since.IsZero() {
				since = now
			}
			if now.Sub(since) >= hold {
				return overlap, since
			}
		default:
			bothFrom, since = time.Time{}, time.Time{}
		}
		if now.After(deadline) {
			t.Fatalf("VIP %v held by %v after %v, want only %s", vip, got, timeout, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tcpService is a TCP listener inside a lab host that a vipd tcp check
// connects to; Close makes the check fail, Open makes it pass again.
type tcpService struct {
	t    testing.TB
	host *lab.Host
	addr string
	ln   net.Listener
}

func startTCPService(t testing.TB, h *lab.Host, addr string) *tcpService {
	t.Helper()
	s := &tcpService{t: t, host: h, addr: addr}
	s.Open()
	t.Cleanup(s.Close)
	return s
}

// Open listens (again) and accepts connections, closing each at once.
func (s *tcpService) Open() {
	s.t.Helper()
	var ln net.Listener
	if err := s.host.Do(func() (err error) {
		ln, err = net.Listen("tcp", s.addr)
		return err
	}); err != nil {
		s.t.Fatalf("listen on %s in %s: %v", s.addr, s.host.Name(), err)
	}
	s.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// Close stops listening: connections are refused.
func (s *tcpService) Close() {
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// showOnFailure registers a cleanup that prints the capture, decoded by
// tshark, when the test has failed: number, time, source MAC and address,
// destination, VRRP priority, summary.
func showOnFailure(t testing.TB, pcap string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out, err := exec.Command("tshark", "-r", pcap, "-n", "-T", "fields", "-E", "separator=/t",
			"-e", "frame.number", "-e", "frame.time_epoch", "-e", "eth.src", "-e", "ip.src", "-e", "ipv6.src",
			"-e", "ip.dst", "-e", "ipv6.dst", "-e", "vrrp.prio", "-e", "_ws.col.Info").CombinedOutput()
		if err != nil {
			t.Logf("tshark -r %s: %v", pcap, err)
		}
		t.Logf("capture %s (number, time, MAC, source, destination, VRRP priority, summary):\n%s", pcap, out)
	})
}
