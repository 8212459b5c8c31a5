package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	killed  [2]bool // API servers to serve again at reset
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

// logs returns the logs of the daemons running.
func (p *pair) logs() string {
	var b strings.Builder
	for _, d := range p.running {
		fmt.Fprintf(&b, "%s on %s:\n%s", d.impl, d.host.Name(), d.log)
	}
	return b.String()
}

// killAPI kills node i's API server, as a killed kube-apiserver dies.
func (p *pair) killAPI(i int) {
	p.api[i].Stop()
	p.killed[i] = true
}

// reset undoes a run: it kills the daemons, reconnects the nodes, removes
// the VIPs the killed daemons left behind, empties the client's neighbour
// cache and brings the API servers up, serving again the killed ones.
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
	for i, a := range p.api {
		if p.killed[i] {
			addr := [...]netip.Addr{cp1IP, cp2IP}[i]
			p.api[i] = lab.ServeAPIServer(p.t, p.cp[i], p.lab.KubeadmPKI().ServingCert(p.t, p.cp[i].Name(), addr))
			p.api[i].CAFile = a.CAFile
			p.killed[i] = false
		}
		if a != nil {
			p.api[i].Down.Store(false)
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
	got, ok := findFrames(t, c, n, timeout, match)
	if !ok {
		t.Fatalf("capture has %d of %d expected frames after %v", len(got), n, timeout)
	}
	return got
}

// findFrames is waitFrames returning false instead of failing t after
// the timeout, with the frames that matched.
func findFrames(t testing.TB, c *lab.Capture, n int, timeout time.Duration, match func(Frame) bool) ([]Frame, bool) {
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
			return got, true
		}
		if time.Now().After(deadline) {
			t.Logf("capture has %d of %d expected frames after %v (%d frames in all)", len(got), n, timeout, len(frames))
			return got, false
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

// A poller GETs /readyz of an API server through the VIP from the client
// every 10 ms, each time on a new connection verified with the lab's CA,
// as a new client would, and keeps when each 200 came and which node's
// API server (named by its certificate) served it. Each request is given
// up after a second; the next ones do not wait for it.
type poller struct {
	halt chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu   sync.Mutex
	oks  []served
	last string // the last failure
}

// served is a 200 the client got: when it asked and when it got it.
type served struct {
	asked, at time.Time
	node      string
}

func startPoll(t testing.TB, client *lab.Host, pki *lab.KubeadmPKI, vip netip.Addr) *poller {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA)
	hc := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			// Dialled inside the client's namespace.
			DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
				err = client.Do(func() error {
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: roots},
		},
	}
	url := "https://" + netip.AddrPortFrom(vip, lab.APIServerPort).String() + "/readyz"
	p := &poller{halt: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.halt:
				return
			case <-tick.C:
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.get(hc, url)
			}()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *poller) get(hc *http.Client, url string) {
	asked := time.Now()
	resp, err := hc.Get(url)
	at := time.Now()
	if err != nil {
		p.fail(err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.fail(resp.Status)
		return
	}
	node := "no node"
	for _, n := range resp.TLS.PeerCertificates[0].DNSNames {
		if strings.HasPrefix(n, "cp-") {
			node = n
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.oks = append(p.oks, served{asked: asked, at: at, node: node})
}

func (p *poller) fail(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = why
}

// lastFailure returns why the last request that failed did.
func (p *poller) lastFailure() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// first waits up to timeout for a 200 from node that came after since,
// and returns the earliest.
func (p *poller) first(node string, since time.Time, timeout time.Duration) (time.Time, bool) {
	return p.firstOf(node, timeout, func(s served) bool { return s.at.After(since) })
}

// firstAsked is first for requests made after since.
func (p *poller) firstAsked(node string, since time.Time, timeout time.Duration) (time.Time, bool) {
	return p.firstOf(node, timeout, func(s served) bool { return s.asked.After(since) })
}

func (p *poller) firstOf(node string, timeout time.Duration, match func(served) bool) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		var first time.Time
		p.mu.Lock()
		for _, s := range p.oks {
			if s.node == node && match(s) && (first.IsZero() || s.at.Before(first)) {
				first = s.at
			}
		}
		p.mu.Unlock()
		if !first.IsZero() {
			return first, true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop stops the polling and waits for the requests under way.
func (p *poller) stop() {
	p.once.Do(func() { close(p.halt) })
	p.wg.Wait()
}
