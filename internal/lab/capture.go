package lab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Capture is a tcpdump recording every frame that crosses the lab's
// bridge (the bridge is put in promiscuous mode, so unicast frames between
// hosts are seen too) into a pcap file.
type Capture struct {
	t      testing.TB
	path   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when tcpdump has exited
	err    error         // tcpdump's exit status, set before done is closed
	once   sync.Once
}

// Capture starts tcpdump on the bridge with the given pcap filter ("" for
// everything) and returns once tcpdump is listening. It skips the test (or
// fails it, see Require) when tcpdump is missing. The capture is stopped by
// Stop or at the latest by t.Cleanup.
func (l *Lab) Capture(t testing.TB, filter string) *Capture {
	t.Helper()
	RequireCommand(t, "tcpdump")
	c := &Capture{
		t:      t,
		path:   filepath.Join(t.TempDir(), "capture.pcap"),
		stderr: &lockedBuffer{},
		done:   make(chan struct{}),
	}
	// -U writes each frame as it comes and --immediate-mode hands it to
	// tcpdump at once, so Wait sees frames within milliseconds; -Z root
	// keeps tcpdump from switching to a user that cannot write t.TempDir.
	// -s 2048 holds any frame of the lab (MTU 1500): in immediate mode the
	// kernel's buffer is cut into slots of the snapshot length, and with
	// tcpdump's default of 256 KiB a burst of a few hundred frames (255
	// routers taking over) overflowed it. -B 16384 (KiB) gives it room
	// for about 7000 frames, so that a burst waits there while tcpdump,
	// starved on a busy machine, is not reading.
	args := []string{"netns", "exec", l.sw.name, "tcpdump",
		"-i", l.bridge, "-w", c.path, "-U", "--immediate-mode", "-n", "-s", "2048", "-B", "16384", "-Z", "root"}
	if filter != "" {
		args = append(args, filter)
	}
	c.cmd = exec.Command("ip", args...)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("lab: start tcpdump: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.stop() })

	deadline := time.Now().Add(settleTimeout)
	for !strings.Contains(c.stderr.String(), "listening on") {
		select {
		case <-c.done:
			t.Fatalf("lab: tcpdump exited before listening: %v\n%s", c.err, c.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: tcpdump not listening after %v\n%s", settleTimeout, c.stderr)
		}
	}
	return c
}

// Path returns the pcap file the capture writes.
func (c *Capture) Path() string { return c.path }

// Stop stops tcpdump, waits for it to exit and returns the path of the
// pcap file. It may be called more than once. It fails the test of Capture
// when tcpdump did not exit cleanly.
func (c *Capture) Stop() string {
	c.t.Helper()
	if err := c.stop(); err != nil {
		c.t.Fatalf("lab: %v", err)
	}
	return c.path
}

func (c *Capture) stop() error {
	var err error
	c.once.Do(func() {
		// ip netns exec execs tcpdump, so the signal reaches tcpdump
		// itself, which flushes the file and exits 0 on SIGTERM.
		if serr := c.cmd.Process.Signal(syscall.SIGTERM); serr != nil && !errors.Is(serr, os.ErrProcessDone) {
			err = fmt.Errorf("stop tcpdump: %w", serr)
			return
		}
		select {
		case <-c.done:
		case <-time.After(settleTimeout):
			c.cmd.Process.Kill()
			<-c.done
			err = fmt.Errorf("tcpdump did not stop on SIGTERM\n%s", c.stderr)
			return
		}
		if c.err != nil {
			err = fmt.Errorf("tcpdump: %w\n%s", c.err, c.stderr)
			return
		}
		if n := droppedFrames(c.stderr.String()); n > 0 {
			err = fmt.Errorf("tcpdump dropped %d frames: the capture is incomplete\n%s", n, c.stderr)
		}
	})
	return err
}

// droppedFrames reads the count of frames the kernel dropped from
// tcpdump's closing statistics ("N packets dropped by kernel").
func droppedFrames(stderr string) int {
	for line := range strings.Lines(stderr) {
		var n int
		if _, err := fmt.Sscanf(line, "%d packets dropped by kernel", &n); err == nil {
			return n
		}
	}
	return 0
}

// Frames returns the frames recorded so far.
func (c *Capture) Frames() ([][]byte, error) { return ReadPcap(c.path) }

// Wait polls the capture until it holds at least n frames for which match
// returns true (nil matches every frame), and returns those frames. It
// fails the test after a deadline of a few seconds.
func (c *Capture) Wait(n int, match func(frame []byte) bool) [][]byte {
	c.t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		frames, err := c.Frames()
		if err != nil {
			c.t.Fatalf("lab: %v", err)
		}
		var got [][]byte
		for _, f := range frames {
			if match == nil || match(f) {
				got = append(got, f)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("lab: capture has %d of %d expected frames after %v (%d frames in all)", len(got), n, settleTimeout, len(frames))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pcap link type of Ethernet, the only one a lab bridge produces.
const linkTypeEthernet = 1

// ReadPcap returns the frames of a classic pcap file as written by tcpdump
// -w with an Ethernet link. A record cut short at the end of the file (one
// tcpdump is still writing) is left out; an empty file holds no frames.
func ReadPcap(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read pcap: %w", err)
	}
	const fileHeaderLen, recordHeaderLen = 24, 16
	if len(b) < fileHeaderLen {
		return nil, nil
	}
	var order binary.ByteOrder
	switch {
	case bytes.Equal(b[:4], []byte{0xa1, 0xb2, 0xc3, 0xd4}), bytes.Equal(b[:4], []byte{0xa1, 0xb2, 0x3c, 0x4d}):
		order = binary.BigEndian
	case bytes.Equal(b[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}), bytes.Equal(b[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1}):
		order = binary.LittleEndian
	default:
		return nil, fmt.Errorf("read pcap %s: not a pcap file (magic % x)", path, b[:4])
	}
	if lt := order.Uint32(b[20:24]); lt != linkTypeEthernet {
		return nil, fmt.Errorf("read pcap %s: link type %d, want Ethernet", path, lt)
	}
	var frames [][]byte
	for rest := b[fileHeaderLen:]; len(rest) >= recordHeaderLen; {
		n := int(order.Uint32(rest[8:12]))
		if len(rest) < recordHeaderLen+n {
			break
		}
		frames = append(frames, rest[recordHeaderLen:recordHeaderLen+n])
		rest = rest[recordHeaderLen+n:]
	}
	return frames, nil
}

// lockedBuffer is a bytes.Buffer written by exec's copying goroutine and
// read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
