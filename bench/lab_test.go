package bench

import (
	"context"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/internal/lab"
)

// pair is the lab of a section: cp-1 (192.0.2.11) and cp-2 (192.0.2.12),
// a client (192.0.2.50) and fake API servers when asked for.
type pair struct {
	t       testing.TB
	lab     *lab.Lab
	cp      [2]*lab.Host
	client  *lab.Host
	api     [2]*lab.APIServer
	running []*daemon
}

func newPair(t testing.TB, withClient, withAPI bool) *pair {
	t.Helper()
	l := lab.New(t)
	p := &pair{t: t, lab: l}
	p.cp[0] = l.AddHost("cp-1", "192.0.2.11/24")
	p.cp[1] = l.AddHost("cp-2", "192.0.2.12/24")
	if withClient {
		p.client = l.AddHost("client", "192.0.2.50/24")
	}
	if withAPI {
		for i, h := range p.cp {
			p.api[i] = lab.StartAPIServer(t, h)
		}
	}
	return p
}

// start runs im on node i (0 for cp-1) with spec s.
func (p *pair) start(im impl, i int, s spec) *daemon {
	p.t.Helper()
	var text string
	switch im {
	case implVipd:
		text = vipdConfig(s)
	case implKeepalived:
		text = keepalivedConfig(s, p.cp[i].Name(), bins.curl)
	}
	return p.startText(im, i, text)
}

// startText runs im on node i with a configuration file's text.
func (p *pair) startText(im impl, i int, text string) *daemon {
	p.t.Helper()
	d := start(p.t, im, p.cp[i], text)
	p.running = append(p.running, d)
	return d
}

// elect starts cp-1 with priority prio1 and, once it holds every VIP,
// cp-2 with prio2, and returns when cp-2 is ready.
func (p *pair) elect(im impl, s spec, prio1, prio2 int) (d1, d2 *daemon) {
	p.t.Helper()
	s1, s2 := s, s
	s1.priority, s2.priority = prio1, prio2
	d1 = p.start(im, 0, s1)
	timeout := 10*s.interval + 10*time.Second
	if c := s.check; c != nil {
		timeout += time.Duration(c.rise) * max(c.interval, time.Duration(c.kaInterval)*time.Second)
	}
	waitHolds(p.t, p.cp[0], vipsOf(s.instances), timeout)
	d2 = p.start(im, 1, s2)
	d2.ready()
	return d1, d2
}

// reset undoes a run: it kills the daemons, reconnects the nodes, removes
// the VIPs the killed daemons left behind, empties the client's neighbour
// cache and brings the API servers up.
func (p *pair) reset() {
	p.t.Helper()
	for _, d := range p.running {
		d.kill()
	}
	p.running = nil
	for _, h := range p.cp {
		h.LinkUp(p.t)
		flushVIPs(p.t, h)
	}
	if p.client != nil {
		p.client.Run(p.t, "ip", "neigh", "flush", "dev", "eth0")
	}
	for _, a := range p.api {
		if a != nil {
			a.Down.Store(false)
		}
	}
}

// held returns how many of vips h holds on eth0.
func held(t testing.TB, h *lab.Host, vips []netip.Prefix) int {
	t.Helper()
	addrs := h.Addrs(t, "eth0")
	n := 0
	for _, v := range vips {
		if slices.ContainsFunc(addrs, func(a netip.Prefix) bool { return a.Addr() == v.Addr() }) {
			n++
		}
	}
	return n
}

// waitHolds waits until h holds every one of vips.
func waitHolds(t testing.TB, h *lab.Host, vips []netip.Prefix, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := held(t, h, vips)
		if n == len(vips) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d of %d VIPs after %v", h.Name(), n, len(vips), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flushVIPs removes from h's eth0 the VIPs a killed daemon left: every
// address of the VIP ranges (see vipsOf).
func flushVIPs(t testing.TB, h *lab.Host) {
	t.Helper()
	link, err := h.Handle().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := h.Handle().AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		if ip != vipAPI.Addr() && !vipRange[0].Contains(ip) && !vipRange[1].Contains(ip) {
			continue
		}
		if err := h.Handle().AddrDel(link, &a); err != nil {
			t.Fatalf("remove %v from %s: %v", a.IPNet, h.Name(), err)
		}
	}
}

var vipRange = [2]netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}

// waitFrames polls the capture until it holds n frames that match, and
// returns them.
func waitFrames(t testing.TB, c *lab.Capture, n int, timeout time.Duration, match func(Frame) bool) []Frame {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		frames, err := ReadPcap(c.Path())
		if err != nil {
			t.Fatal(err)
		}
		var got []Frame
		for _, f := range frames {
			if match(f) {
				got = append(got, f)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture has %d of %d expected frames after %v (%d frames in all)", len(got), n, timeout, len(frames))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// advertsFrom matches the adverts of src captured after since.
func advertsFrom(src netip.Addr, since time.Time) func(Frame) bool {
	return func(f Frame) bool {
		a, ok := ParseAdvert(f.Data)
		return ok && a.Src == src && f.Time.After(since)
	}
}

// garpsFrom matches the gratuitous ARPs for vip sent by h after since.
func garpsFrom(h *lab.Host, vip netip.Addr, since time.Time) func(Frame) bool {
	mac := h.HardwareAddr().String()
	return func(f Frame) bool {
		sender, addr, ok := ParseGARP(f.Data)
		return ok && sender.String() == mac && addr == vip && f.Time.After(since)
	}
}

// pinger pings the VIP from the client every 10 ms and keeps each reply's
// time (ping -D).
type pinger struct {
	cmd  *exec.Cmd
	out  *lineLog
	done chan error
}

func startPing(t testing.TB, client *lab.Host, addr netip.Addr) *pinger {
	t.Helper()
	p := &pinger{out: &lineLog{}, done: make(chan error, 1)}
	p.cmd = client.Exec(context.Background(), "ping", "-n", "-D", "-i", "0.01", "-W", "1", addr.String())
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

var pingReply = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .* icmp_seq=(\d+)`)

// reply is one echo reply: its sequence number and when it came.
type reply struct {
	seq int
	at  time.Time
}

// replies returns the replies, in the order received.
func (p *pinger) replies() []reply {
	var out []reply
	for _, ln := range p.out.since(time.Time{}) {
		m := pingReply.FindStringSubmatch(ln.text)
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		frac := m[2] + "000000000"[len(m[2]):]
		ns, _ := strconv.ParseInt(frac, 10, 64)
		seq, _ := strconv.Atoi(m[3])
		out = append(out, reply{seq: seq, at: time.Unix(sec, ns)})
	}
	return out
}

// waitReplies waits until n replies came after since, and reports
// whether they did before the timeout.
func (p *pinger) waitReplies(n int, since time.Time, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		got := 0
		for _, r := range p.replies() {
			if r.at.After(since) {
				got++
			}
		}
		if got >= n {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// stop interrupts ping and returns the longest time between two
// consecutive replies (the last one counted up to the stop) and how many
// requests between the first and the last reply got none.
func (p *pinger) stop(t testing.TB) (gap time.Duration, lost int) {
	t.Helper()
	end := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	err := <-p.done
	p.done <- err
	rs := p.replies()
	if len(rs) == 0 {
		t.Fatalf("no ping reply at all:\n%s", p.out)
	}
	seqs := make(map[int]bool)
	first, last := rs[0].seq, rs[0].seq
	for i, r := range rs {
		if i > 0 {
			gap = max(gap, r.at.Sub(rs[i-1].at))
		}
		seqs[r.seq] = true
		first, last = min(first, r.seq), max(last, r.seq)
	}
	return max(gap, end.Sub(rs[len(rs)-1].at)), last - first + 1 - len(seqs)
}
