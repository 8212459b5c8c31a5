package health

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"time"
)

// A connWatcher is a Checker whose target listens on TCP. watchConn opens
// a connection to the target, as its probes would, and leaves it idle: a
// target process that exits, or is killed, makes its kernel close the
// connection at once, long before the next probe.
type connWatcher interface {
	watchConn(ctx context.Context) (net.Conn, error)
}

// An exitWatcher is a Checker that learns at once that what it checks may
// have changed: watchExits starts following until ctx ends and returns the
// channel, with room for one, on which it tells.
type exitWatcher interface {
	watchExits(ctx context.Context) <-chan struct{}
}

var (
	_ connWatcher = (*tcpChecker)(nil)
	_ connWatcher = (*httpChecker)(nil)
)

func (c *tcpChecker) watchConn(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", c.addr)
}

// watchConn connects to the URL's host and port. For https it completes
// the TLS handshake, with the check's files as they are: a server logs a
// client that leaves in the middle of one, and closes idle connections
// that never started one sooner than those that did.
func (c *httpChecker) watchConn(ctx context.Context) (net.Conn, error) {
	u, err := url.Parse(c.url)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil || c.files == nil {
		return conn, err
	}
	c.mu.Lock()
	cfg, err := c.files.config(time.Now())
	c.mu.Unlock()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// watch keeps an idle connection to w's target while the check passes.
// After each successful probe the check sends on ready; watch then
// connects, unless it is connected, and waits for the connection to end.
// When it ends, or cannot be made, watch sends on closed (which has room
// for one) and waits
// for the next success: a target that is gone refuses connections, which
// the probes find. It connects at most once per interval, so that a target
// that closes idle connections at once costs one probe per interval more,
// not a probe loop.
func watch(ctx context.Context, w connWatcher, s Spec, ready <-chan struct{}, closed chan<- struct{}) {
	var last time.Time // of the last connection
	for {
		select {
		case <-ctx.Done():
			return
		case <-ready:
		}
		if wait := s.Interval - time.Since(last); !last.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		dctx, cancel := context.WithTimeout(ctx, s.Timeout)
		conn, err := w.watchConn(dctx)
		cancel()
		if err == nil {
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			// An idle HTTP, TLS or TCP server sends nothing: the read
			// returns when the connection ends (or, from an odd
			// server, with data, which is a reason to probe as good
			// as any).
			var b [1]byte
			conn.Read(b[:])
			stop()
			conn.Close()
		}
		// A target that cannot be reached just after a probe passed
		// may have gone as well: the probes tell.
		if ctx.Err() != nil {
			return
		}
		select {
		case closed <- struct{}{}:
		default:
		}
	}
}
