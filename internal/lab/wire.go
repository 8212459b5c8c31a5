package lab

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// A Wire is a forwarder between a host and its bridge port that delays,
// reorders, duplicates, drops or holds frames, which the kernel's qdiscs
// would do (netem) where they are available. The host's eth0 is cabled to
// the wire's namespace instead of the bridge; there two packet sockets
// copy frames between that cable and a second one to the bridge, one
// goroutine per direction reading and one sending on schedule. Without an
// impairment a frame is copied at once.
//
// The wire carries what the lab's tests send: VRRP, ARP, neighbour
// discovery, ICMP. A TCP or UDP frame whose checksum the host left to the
// hardware (veth offloads it) arrives with that checksum unfinished, and a
// segment larger than the MTU (TSO) cannot be sent: both are counted as
// dropped, not repaired.
type Wire struct {
	host *Host
	ns   *namespace
	dirs [2]*wireDir // FromHost, ToHost
	wg   sync.WaitGroup
}

// Direction selects the frames of a Wire an impairment applies to.
type Direction uint8

// Directions through a Wire.
const (
	// FromHost: frames the host sends, towards the segment.
	FromHost Direction = 1 << iota
	// ToHost: frames of the segment, towards the host.
	ToHost
	// BothWays: every frame.
	BothWays = FromHost | ToHost
)

// Impairment is what a Wire does to the frames of one direction. The zero
// value passes them unchanged.
type Impairment struct {
	// Loss is the share of frames dropped, 0 to 1.
	Loss float64
	// Delay is how long every frame waits; Jitter adds a uniformly random
	// part of it, frame by frame, so that frames closer together than
	// Jitter may arrive in another order.
	Delay, Jitter time.Duration
	// Reorder is the share of frames held back ReorderBy longer than the
	// others, so that the frames sent after them overtake them.
	Reorder   float64
	ReorderBy time.Duration
	// Duplicate is the share of frames sent twice, the copy right after.
	Duplicate float64
}

func (i Impairment) passes() bool { return i.Delay == 0 && i.Jitter == 0 && i.Reorder == 0 }

// WireStats count the frames of one direction.
type WireStats struct {
	// Forwarded counts the frames sent on, copies included.
	Forwarded uint64
	// Lost counts the frames dropped by Loss.
	Lost uint64
	// Duplicated counts the copies sent by Duplicate.
	Duplicated uint64
	// Failed counts the frames that could not be sent (too large, the
	// link down) or did not fit the queue.
	Failed uint64
}

// maxQueued bounds the frames a direction holds: a hold of many seconds
// on a busy segment drops the excess, as a switch's buffer would.
const maxQueued = 8192

// The interfaces of a wire namespace: the host's cable and the bridge's.
const (
	wireHostSide   = "host"
	wireSwitchSide = "switch"
)

// Wire puts a forwarder between h and the bridge and returns it; it passes
// frames unchanged until told otherwise. seed makes its random choices
// repeatable. Call it before anything runs on h: h's eth0 loses its
// carrier for a moment while it is recabled. The forwarder stops at
// cleanup. LinkDown and LinkUp cut and restore the host's cable to the
// wire, so that the host sees its link go, as without a wire.
func (h *Host) Wire(t testing.TB, seed uint64) *Wire {
	t.Helper()
	l := h.lab
	l.mu.Lock()
	if h.wire != nil {
		l.mu.Unlock()
		t.Fatalf("lab: host %s has a wire already", h.name)
	}
	w := &Wire{host: h}
	h.wire = w
	l.mu.Unlock()

	w.ns = newNamespace(t, l.prefix+"-w-"+h.name)
	// The wire's kernel must send nothing of its own into the cables.
	if err := w.ns.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		})
	}); err != nil {
		t.Fatalf("lab: wire of %s: %v", h.name, err)
	}
	// The bridge's end of the host's cable moves into the wire, and a new
	// cable joins the wire to the bridge under the old port name, so that
	// captures, faults and LinkDown keep working on the port.
	l.ip(t, "-n", l.sw.name, "link", "set", h.port, "netns", w.ns.name)
	l.ip(t, "-n", w.ns.name, "link", "set", h.port, "name", wireHostSide)
	l.ip(t, "-n", l.sw.name, "link", "add", h.port, "type", "veth", "peer", "name", wireSwitchSide, "netns", w.ns.name)
	l.ip(t, "-n", l.sw.name, "link", "set", h.port, "master", l.bridge, "up")
	l.ip(t, "-n", w.ns.name, "link", "set", wireHostSide, "up")
	l.ip(t, "-n", w.ns.name, "link", "set", wireSwitchSide, "up")

	var hostSide, switchSide *packet.Conn
	if err := w.ns.do(func() error {
		var err error
		if hostSide, err = listenAll(wireHostSide); err != nil {
			return err
		}
		if switchSide, err = listenAll(wireSwitchSide); err != nil {
			hostSide.Close()
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("lab: wire of %s: %v", h.name, err)
	}
	w.dirs[0] = newWireDir(h.name+" →", hostSide, switchSide, rand.New(rand.NewPCG(seed, 1)))
	w.dirs[1] = newWireDir("→ "+h.name, switchSide, hostSide, rand.New(rand.NewPCG(seed, 2)))
	for _, d := range w.dirs {
		w.wg.Add(2)
		go func() { defer w.wg.Done(); d.read() }()
		go func() { defer w.wg.Done(); d.send() }()
	}
	t.Cleanup(w.stop)
	return w
}

// listenAll opens a packet socket receiving every frame that arrives on
// the interface, but none it sends itself.
func listenAll(name string) (*packet.Conn, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	}); err != nil || serr != nil {
		c.Close()
		return nil, fmt.Errorf("ignore outgoing frames on %s: %w", name, errors.Join(err, serr))
	}
	return c, nil
}

// Set changes the impairment of the directions dir; frames already on
// their way keep their schedule.
func (w *Wire) Set(dir Direction, imp Impairment) {
	for i, d := range w.dirs {
		if dir&(1<<i) != 0 {
			d.mu.Lock()
			d.imp = imp
			d.mu.Unlock()
		}
	}
}

// Hold stops forwarding in the directions dir: frames queue, up to a
// bound, until Release sends them all at once, in order, as a link that
// stalled and came back.
func (w *Wire) Hold(dir Direction) {
	for i, d := range w.dirs {
		if dir&(1<<i) != 0 {
			d.mu.Lock()
			d.holding = true
			d.mu.Unlock()
		}
	}
}

// Release ends a Hold of the directions dir.
func (w *Wire) Release(dir Direction) {
	for i, d := range w.dirs {
		if dir&(1<<i) != 0 {
			d.mu.Lock()
			d.holding = false
			d.mu.Unlock()
			d.poke()
		}
	}
}

// Stats returns the counts of the direction dir (FromHost or ToHost).
func (w *Wire) Stats(dir Direction) WireStats {
	d := w.dirs[0]
	if dir == ToHost {
		d = w.dirs[1]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// stop closes the sockets and waits for the goroutines.
func (w *Wire) stop() {
	for _, d := range w.dirs {
		d.close()
	}
	w.wg.Wait()
}

// linkDown and linkUp cut and restore the host's cable to the wire.
func (w *Wire) linkDown(t testing.TB) {
	t.Helper()
	w.host.lab.ip(t, "-n", w.ns.name, "link", "set", wireHostSide, "down")
}

func (w *Wire) linkUp(t testing.TB) {
	t.Helper()
	w.host.lab.ip(t, "-n", w.ns.name, "link", "set", wireHostSide, "up")
}

// wireDir is one direction of a Wire.
type wireDir struct {
	name    string
	in, out *packet.Conn
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	imp     Impairment
	rng     *rand.Rand
	holding bool
	queue   frameQueue
	seq     uint64 // orders frames due at the same time
	stats   WireStats
}

func newWireDir(name string, in, out *packet.Conn, rng *rand.Rand) *wireDir {
	return &wireDir{name: name, in: in, out: out, rng: rng, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *wireDir) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *wireDir) close() {
	d.once.Do(func() {
		close(d.done)
		d.in.Close()
	})
}

// read reads frames and schedules them until the socket is closed.
func (d *wireDir) read() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := d.in.ReadFrom(buf)
		if err != nil {
			select {
			case <-d.done:
				return
			default:
			}
			// A link going down reports ENETDOWN once: the socket
			// reads again when the link is back.
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond)
			continue
		}
		now := time.Now()
		d.mu.Lock()
		copies := d.decide()
		if copies > 0 && !d.holding && len(d.queue) == 0 && d.imp.passes() {
			// Nothing to wait for: send now, from here.
			d.mu.Unlock()
			for range copies {
				d.write(buf[:n])
			}
			continue
		}
		for range copies {
			if len(d.queue) >= maxQueued {
				d.stats.Failed++
				continue
			}
			due := now.Add(d.delay())
			d.seq++
			heap.Push(&d.queue, &queuedFrame{due: due, seq: d.seq, b: append([]byte(nil), buf[:n]...)})
		}
		d.mu.Unlock()
		d.poke()
	}
}

// decide returns how many times the frame just read is to be sent: 0
// (lost), 1 or 2 (duplicated). It runs with d.mu held.
func (d *wireDir) decide() int {
	imp := d.imp
	if imp.Loss > 0 && d.rng.Float64() < imp.Loss {
		d.stats.Lost++
		return 0
	}
	if imp.Duplicate > 0 && d.rng.Float64() < imp.Duplicate {
		d.stats.Duplicated++
		return 2
	}
	return 1
}

// delay returns how long the frame just read waits. It runs with d.mu
// held.
func (d *wireDir) delay() time.Duration {
	imp := d.imp
	w := imp.Delay
	if imp.Jitter > 0 {
		w += time.Duration(d.rng.Int64N(int64(imp.Jitter)))
	}
	if imp.Reorder > 0 && d.rng.Float64() < imp.Reorder {
		w += imp.ReorderBy
	}
	return w
}

// send sends the queued frames when they are due, until the wire stops.
func (d *wireDir) send() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var next *queuedFrame
		wait := time.Hour
		if !d.holding && len(d.queue) > 0 {
			if until := time.Until(d.queue[0].due); until <= 0 {
				next = heap.Pop(&d.queue).(*queuedFrame)
			} else {
				wait = until
			}
		}
		d.mu.Unlock()
		if next != nil {
			d.write(next.b)
			continue
		}
		timer.Reset(wait)
		select {
		case <-d.done:
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// write sends one frame and counts it.
func (d *wireDir) write(b []byte) {
	if len(b) < 14 {
		return
	}
	_, err := d.out.WriteTo(b, &packet.Addr{HardwareAddr: net.HardwareAddr(b[0:6])})
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.stats.Failed++
		return
	}
	d.stats.Forwarded++
}

// queuedFrame is a frame waiting in a direction's queue.
type queuedFrame struct {
	due time.Time
	seq uint64
	b   []byte
}

// frameQueue is a heap of frames by due time, then by arrival.
type frameQueue []*queuedFrame

func (q frameQueue) Len() int { return len(q) }
func (q frameQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q frameQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *frameQueue) Push(x any)   { *q = append(*q, x.(*queuedFrame)) }
func (q *frameQueue) Pop() any {
	old := *q
	f := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return f
}
