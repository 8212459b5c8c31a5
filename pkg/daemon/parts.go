package daemon

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/vipd/vipd/pkg/router"
)

// sockKey names one shared VRRP socket: an interface and a family.
type sockKey struct {
	ifname string
	ipv6   bool
}

func (k sockKey) String() string {
	if k.ipv6 {
		return k.ifname + " IPv6"
	}
	return k.ifname + " IPv4"
}

// sock is a VRRP socket and the Listener reading it.
type sock struct {
	conn     Conn
	listener *router.Listener
	cancel   context.CancelFunc // nil until start
	done     chan struct{}
}

// dialSock opens the socket of sk on ifi; it reads nothing until start.
func (d *Daemon) dialSock(ifi *net.Interface, sk sockKey) (*sock, error) {
	conn, err := d.sys.DialVRRP(ifi, sk.ipv6)
	if err != nil {
		return nil, err
	}
	return &sock{conn: conn, listener: router.NewListener(conn, d.log.With("interface", ifi.Name)), done: make(chan struct{})}, nil
}

// start runs the socket's Listener; its failure ends Run.
func (s *sock) start(sk sockKey, errs chan<- error) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		if err := s.listener.Run(ctx); err != nil {
			select {
			case errs <- fmt.Errorf("%v: %w", sk, err):
			default:
			}
		}
	}()
}

// close stops the Listener, if it runs, and closes the socket.
func (s *sock) close() {
	if s.cancel != nil {
		s.cancel()
		s.conn.SetReadDeadline(time.Unix(1, 0))
		<-s.done
	}
	s.conn.Close()
}

// checks is a running Monitor.
type checks struct {
	mon    Monitor
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startChecks runs mon, and hands the routers its changes.
func (d *Daemon) startChecks(mon Monitor) *checks {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checks{mon: mon, cancel: cancel}
	c.wg.Go(func() {
		if err := mon.Run(ctx); err != nil {
			d.log.Error("health monitor stopped", "error", err)
		}
	})
	c.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-mon.Changes():
				d.updateHealth()
			}
		}
	})
	return c
}

// stop stops the checks, if any, and waits for them.
func (c *checks) stop() {
	if c == nil {
		return
	}
	c.cancel()
	c.wg.Wait()
}
