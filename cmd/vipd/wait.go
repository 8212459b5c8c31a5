package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/daemon"
	"github.com/vipd/vipd/pkg/netif"
)

// waitForNode returns this node's name in cfg. When none of the nodes'
// addresses is on the host yet (DHCP, a bond or VLAN made after vipd
// started), it says once what it waits for, through waiting, and follows
// the kernel's address events until one appears or ctx ends. Other errors
// (an unknown -node, two nodes' addresses held) are returned at once.
func waitForNode(ctx context.Context, cfg *config.Config, node string, waiting func(string), log *slog.Logger) (string, error) {
	var events chan struct{}
	said := false
	for {
		local, err := netif.LocalAddrs()
		if err != nil {
			return "", fmt.Errorf("list local addresses: %w", err)
		}
		self, err := cfg.Self(node, local)
		if err == nil || !errors.Is(err, config.ErrNoLocalNode) {
			if said && err == nil {
				log.Info("node address present; starting", "node", self)
			}
			return self, err
		}
		if events == nil {
			// Subscribe, then look again: an address added in between
			// is seen either way.
			events, err = addressEvents(ctx)
			if err != nil {
				return "", err
			}
			continue
		}
		if !said {
			said = true
			what := "one of this node's addresses: " + nodeAddrs(cfg)
			log.Warn("waiting for "+what, "local addresses", addrList(local))
			waiting(what)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case _, ok := <-events:
			if !ok {
				// The subscription failed; look again, after a pause.
				events = nil
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}
	}
}

// addressEvents ticks for every batch of the kernel's address events until
// ctx ends or receiving fails; then it closes the channel.
func addressEvents(ctx context.Context) (chan struct{}, error) {
	ev, err := netif.Subscribe(nil, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
	if err != nil {
		return nil, fmt.Errorf("follow address changes: %w", err)
	}
	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { ev.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer ev.Close()
		for {
			if _, err := ev.Receive(); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, nil
}

func nodeAddrs(cfg *config.Config) string {
	var out []string
	for _, n := range cfg.Cluster.Nodes {
		var as []string
		for _, a := range []netip.Addr{n.Address, n.Address6} {
			if a.IsValid() {
				as = append(as, a.String())
			}
		}
		out = append(out, fmt.Sprintf("%s (%s)", n.Name, strings.Join(as, ", ")))
	}
	return strings.Join(out, ", ")
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// gate is the control API's backend: the daemon once it runs, and before
// that a status that says what vipd waits for.
type gate struct {
	mu      sync.Mutex
	d       *daemon.Daemon
	waiting control.Status
}

var _ control.Backend = (*gate)(nil)

func (g *gate) set(d *daemon.Daemon) {
	g.mu.Lock()
	g.d = d
	g.mu.Unlock()
}

func (g *gate) wait(what string) {
	g.mu.Lock()
	g.waiting.Waiting = what
	g.mu.Unlock()
}

func (g *gate) daemon() (*daemon.Daemon, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.d, g.waiting.Waiting
}

// Status returns the daemon's status, or what it waits for.
func (g *gate) Status() control.Status {
	if d, _ := g.daemon(); d != nil {
		return d.Status()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// Drain drains the daemon's instances; before they run it fails.
func (g *gate) Drain(names []string) ([]string, error) {
	d, what := g.daemon()
	if d == nil {
		return nil, notRunning(what)
	}
	return d.Drain(names)
}

// Resume resumes the daemon's instances; before they run it fails.
func (g *gate) Resume(names []string) ([]string, error) {
	d, what := g.daemon()
	if d == nil {
		return nil, notRunning(what)
	}
	return d.Resume(names)
}

// Live checks that the daemon's routers answer, for the watchdog and the
// control API's liveness probe; while vipd waits there is nothing that
// could be stuck.
func (g *gate) Live(ctx context.Context) error {
	if d, _ := g.daemon(); d != nil {
		return d.Live(ctx)
	}
	return nil
}

func notRunning(what string) error {
	if what == "" {
		what = "start-up"
	}
	return fmt.Errorf("vipd runs no instances yet: it is waiting for %s", what)
}
