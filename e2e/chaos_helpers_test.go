package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// instanceStatus asks p for its status with vipctl, within timeout, and returns
// the instance called name (its IPv4 router). The timeout is the point of
// it: a daemon busy with a flood must still answer.
func instanceStatus(p *proc, timeout time.Duration, name string) (control.Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, vipctlBin, "-socket", p.socket, "status", "-o", "json", name)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return control.Instance{}, fmt.Errorf("vipctl status on %s: no answer within %v", p.host.Name(), timeout)
	}
	if err != nil {
		return control.Instance{}, fmt.Errorf("vipctl status on %s: %w\n%s", p.host.Name(), err, out)
	}
	var st control.Status
	if err := json.Unmarshal(out, &st); err != nil {
		return control.Instance{}, fmt.Errorf("vipctl status -o json on %s: %w\n%s", p.host.Name(), err, out)
	}
	for _, in := range st.Instances {
		if in.Name == name && in.Family == control.FamilyIPv4 {
			return in, nil
		}
	}
	return control.Instance{}, fmt.Errorf("vipctl status on %s: no IPv4 instance %q in %s", p.host.Name(), name, out)
}

// mustInstanceStatus is instanceStatus for the test goroutine: it fails the test on
// error.
func mustInstanceStatus(t testing.TB, p *proc, name string) control.Instance {
	t.Helper()
	in, err := instanceStatus(p, 5*time.Second, name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// vipARPProber asks for a VIP's MAC from a client host, with a socket of its
// own so that the client's kernel ARP cache plays no part.
type vipARPProber struct {
	c    *arp.Client
	self netip.Addr // the client's address: replies to others are not ours
}

// newVIPARPProber opens an ARP socket on client's eth0, which must have an
// IPv4 address (arp.Dial picks it as the sender address).
func newVIPARPProber(t testing.TB, client *lab.Host) *vipARPProber {
	t.Helper()
	ifi := client.Interface(t)
	var c *arp.Client
	if err := client.Do(func() error {
		var err error
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatalf("ARP socket on %s: %v", client.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	var self netip.Addr
	for _, p := range client.Addrs(t, "eth0") {
		if p.Addr().Is4() {
			self = p.Addr()
		}
	}
	return &vipARPProber{c: c, self: self}
}

// How long answers waits for the first reply, and then for more: every
// holder of the VIP on the segment answers the same broadcast request at
// once, so a second answer comes within microseconds of the first unless
// the machine is very busy.
const (
	arpFirstWait = time.Second
	arpMoreWait  = 100 * time.Millisecond
)

// answers sends one ARP request for vip and returns the MACs that answer,
// each once, sorted. Every node that has vip bound answers, so two MACs
// mean two holders on the segment.
func (a *vipARPProber) answers(vip netip.Addr) ([]string, error) {
	// What came in since the last request (late answers to it,
	// announcements) must not pass for an answer to this one. Bounded, in
	// case the socket fails for good.
	for range 1000 {
		if err := a.c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
			return nil, err
		}
		if _, _, err := a.c.Read(); errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
	}
	if err := a.c.Request(vip); err != nil {
		return nil, fmt.Errorf("ARP request for %v: %w", vip, err)
	}
	deadline := time.Now().Add(arpFirstWait)
	var macs []string
	for {
		if err := a.c.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		p, _, err := a.c.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		// Frames that are not ARP fail to parse: skip them.
		if err != nil {
			continue
		}
		// Gratuitous ARPs of a new master target the VIP itself; only
		// replies to this client answer the request.
		if p.Operation != arp.OperationReply || p.SenderIP != vip || p.TargetIP != a.self {
			continue
		}
		if m := p.SenderHardwareAddr.String(); !slices.Contains(macs, m) {
			if len(macs) == 0 {
				deadline = time.Now().Add(arpMoreWait)
			}
			macs = append(macs, m)
		}
	}
	slices.Sort(macs)
	return macs, nil
}

// A vipSample is what the observer saw at one moment: for each VIP, the
// set of nodes (bit i is node i) that had it bound.
type vipSample struct {
	at      time.Time
	holders []uint8
}

// vipObserver samples, every period, which nodes have each VIP bound. It
// uses netlink handles of its own, so that the test's own polling does
// not queue behind it.
type vipObserver struct {
	vips    []netip.Addr
	handles []*netlink.Handle
	links   []netlink.Link
	period  time.Duration

	mu      sync.Mutex
	samples []vipSample
	err     error
	// slowest is the longest time one sample took: the sample is taken
	// host after host, so a handover shorter than this can be seen as a
	// gap or an overlap that was not there.
	slowest time.Duration

	stop chan struct{}
	done chan struct{}
}

// startVIPObserver starts sampling the hosts' eth0 for vips; it stops at
// cleanup or with halt.
func startVIPObserver(t testing.TB, period time.Duration, vips []netip.Addr, hosts ...*lab.Host) *vipObserver {
	t.Helper()
	o := &vipObserver{vips: vips, period: period, stop: make(chan struct{}), done: make(chan struct{})}
	for _, h := range hosts {
		ns, err := netns.GetFromName(h.NetnsName())
		if err != nil {
			t.Fatalf("observer: namespace of %s: %v", h.Name(), err)
		}
		t.Cleanup(func() { ns.Close() })
		hd, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatalf("observer: netlink in %s: %v", h.Name(), err)
		}
		t.Cleanup(hd.Close)
		link, err := hd.LinkByName("eth0")
		if err != nil {
			t.Fatalf("observer: eth0 of %s: %v", h.Name(), err)
		}
		o.handles = append(o.handles, hd)
		o.links = append(o.links, link)
	}
	go o.run()
	t.Cleanup(o.halt)
	return o
}

func (o *vipObserver) run() {
	defer close(o.done)
	tick := time.NewTicker(o.period)
	defer tick.Stop()
	for {
		start := time.Now()
		s := vipSample{at: start, holders: make([]uint8, len(o.vips))}
		for i, hd := range o.handles {
			addrs, err := hd.AddrList(o.links[i], netlink.FAMILY_V4)
			if err != nil {
				o.mu.Lock()
				o.err = fmt.Errorf("observer: addresses of node %d: %w", i, err)
				o.mu.Unlock()
				return
			}
			for _, a := range addrs {
				ip, _ := netip.AddrFromSlice(a.IP)
				if v := slices.Index(o.vips, ip.Unmap()); v >= 0 {
					s.holders[v] |= 1 << i
				}
			}
		}
		took := time.Since(start)
		o.mu.Lock()
		o.samples = append(o.samples, s)
		o.slowest = max(o.slowest, took)
		o.mu.Unlock()
		select {
		case <-o.stop:
			return
		case <-tick.C:
		}
	}
}

// halt stops sampling and waits for the sampler to finish; it may be
// called more than once.
func (o *vipObserver) halt() {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
}

// since returns the samples taken at or after from, and the sampler's
// error if it failed.
func (o *vipObserver) since(from time.Time) ([]vipSample, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i, _ := slices.BinarySearchFunc(o.samples, from, func(s vipSample, t time.Time) int { return s.at.Compare(t) })
	return slices.Clone(o.samples[i:]), o.err
}

// latest returns the last sample, and whether there is one.
func (o *vipObserver) latest() (vipSample, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.samples) == 0 {
		return vipSample{}, false
	}
	return o.samples[len(o.samples)-1], true
}
