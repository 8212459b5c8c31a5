package netif

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/pkg/linkstate"
)

// Links returns the kernel's links in the network namespace ns, or in the
// calling thread's if ns is nil, as a linkstate.Source.
func Links(ns *netns.NsHandle) linkstate.Source { return links{ns} }

type links struct{ ns *netns.NsHandle }

var _ linkstate.Events = (*linkEvents)(nil)

func (l links) Subscribe() (linkstate.Events, error) {
	ev, err := Subscribe(l.ns, unix.RTNLGRP_LINK)
	if err != nil {
		return nil, err
	}
	return &linkEvents{ns: l.ns, ev: ev}, nil
}

// linkEvents follows links through netlink.
type linkEvents struct {
	ns *netns.NsHandle
	ev *Events
}

func (e *linkEvents) Link(name string) (linkstate.Link, error) {
	// A socket per read: the links are read once per subscription.
	h := &netlink.Handle{}
	if e.ns != nil {
		var err error
		if h, err = netlink.NewHandleAt(*e.ns, unix.NETLINK_ROUTE); err != nil {
			return linkstate.Link{}, fmt.Errorf("netif: netlink: %w", err)
		}
		defer h.Close()
	}
	link, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return linkstate.Link{}, fmt.Errorf("netif: link %s: %w", name, linkstate.ErrNotFound)
	}
	if err != nil {
		return linkstate.Link{}, fmt.Errorf("netif: link %s: %w", name, err)
	}
	return linkOf(link.Attrs()), nil
}

func (e *linkEvents) Receive() ([]linkstate.Event, error) {
	msgs, err := e.ev.Receive()
	if err != nil {
		return nil, err
	}
	out := make([]linkstate.Event, 0, len(msgs))
	for _, m := range msgs {
		u, err := ParseLinkEvent(m)
		if err != nil {
			out = append(out, linkstate.Event{Err: err})
			continue
		}
		// The bridge driver sends AF_BRIDGE messages about its ports to
		// the same group, RTM_DELLINK included when a port merely
		// leaves the bridge; only AF_UNSPEC messages describe the link
		// itself.
		if u.Family != unix.AF_UNSPEC {
			continue
		}
		out = append(out, linkstate.Event{Link: linkOf(u.Attrs()), Deleted: u.Header.Type == unix.RTM_DELLINK})
	}
	return out, nil
}

func (e *linkEvents) Close() error { return e.ev.Close() }

func linkOf(a *netlink.LinkAttrs) linkstate.Link {
	return linkstate.Link{
		Index:     a.Index,
		Name:      a.Name,
		Up:        a.RawFlags&unix.IFF_UP != 0,
		Running:   a.RawFlags&unix.IFF_RUNNING != 0,
		Flags:     a.Flags.String(),
		OperState: a.OperState.String(),
	}
}
