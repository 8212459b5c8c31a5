package kaconf

// vrrp_sync_group: instances that change state together, as keepalived
// reads them and as vipd's sync_group carries them.

import (
	"fmt"
	"slices"
)

// kaGroup is a vrrp_sync_group.
type kaGroup struct {
	at      *stmt
	name    string
	members []string
	// keepWeights is sync_group_tracking_weight (or global_tracking):
	// without it keepalived ignores the weighted tracks of its members.
	keepWeights bool
	trackIfs    []kaTrackIf
	tracks      []kaTrack
	lacks       []kaLack
	instances   []*vInstance
}

// syncGroup reads a vrrp_sync_group; its tracks are looked up now, as
// keepalived does, and its members once every instance is read.
func (c *fileConv) syncGroup(s *stmt) {
	if len(s.words) != 2 {
		c.n.at(s, "vrrp_sync_group without a name: keepalived skips it (\"vrrp_sync_group must have a name\")")
		return
	}
	if slices.ContainsFunc(c.groups, func(g *kaGroup) bool { return g.name == s.arg(1) }) {
		c.n.at(s, "vrrp_sync_group %s is defined twice: keepalived skips this one", s.arg(1))
		return
	}
	g := &kaGroup{at: s, name: s.arg(1)}
	label := "vrrp_sync_group " + g.name
	groupSet := false
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "group":
			if groupSet {
				c.n.at(k, "%s: the group list is given twice: keepalived ignores this one", label)
				continue
			}
			groupSet = true
			for _, m := range k.block {
				g.members = append(g.members, m.words...)
			}
		case "sync_group_tracking_weight", "global_tracking":
			g.keepWeights = true
		case "track_interface", "track_script", "track_process":
			c.readTracking(label, k, &g.trackIfs, &g.tracks)
		case "track_file", "track_bfd":
			for _, e := range k.block {
				g.lacks = append(g.lacks, kaLack{kw, e})
			}
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			c.n.at(k, "%s: %s: not converted: vipd runs notify programs per instance; give the members a notify program", label, kw)
		case "smtp_alert", "notify_priority_changes":
			c.n.at(k, "%s: %s: not converted", label, kw)
		default:
			c.n.at(k, "%s: %s: keepalived 2.2.7 does not know it and ignores it", label, kw)
		}
	}
	c.groups = append(c.groups, g)
}

// setGroups makes the instances members of their sync groups, as
// keepalived's vrrp_sync_set_group: an unknown name or an instance already
// in a group is skipped, and a group without members removed.
func (c *fileConv) setGroups() {
	var kept []*kaGroup
	for _, g := range c.groups {
		for _, m := range g.members {
			i := slices.IndexFunc(c.nd.instances, func(in *vInstance) bool { return in.kaName == m })
			switch {
			case i < 0:
				c.n.at(g.at, "vrrp_sync_group %s: there is no vrrp_instance %s: keepalived ignores it", g.name, m)
			case c.nd.instances[i].group != nil:
				c.n.at(g.at, "vrrp_sync_group %s: vrrp_instance %s is already in vrrp_sync_group %s: keepalived ignores it here", g.name, m, c.nd.instances[i].group.name)
			default:
				c.nd.instances[i].group = g
				g.instances = append(g.instances, c.nd.instances[i])
			}
		}
		if len(g.instances) == 0 {
			c.n.at(g.at, "vrrp_sync_group %s has no vrrp_instance: keepalived removes it", g.name)
			continue
		}
		kept = append(kept, g)
	}
	c.groups = kept
}

// syncGroups makes the members of each vrrp_sync_group of two or more
// instances members of a vipd sync_group, which changes state together as
// keepalived's does (see pkg/daemon). A member that is not converted takes
// the others with it: they would change state alone.
func (c *fileConv) syncGroups() {
	var names []string
	for changed := true; changed; {
		changed = false
		for _, g := range c.groups {
			i := slices.IndexFunc(g.instances, func(in *vInstance) bool { return in.refused })
			if len(g.instances) < 2 || i < 0 {
				continue
			}
			for _, in := range g.instances {
				if !in.refused {
					c.refuse(in, g.at, "vrrp_sync_group %s: its member vrrp_instance %s is not converted, and this one would change state without it", g.name, g.instances[i].kaName)
					changed = true
				}
			}
		}
	}
	for _, g := range c.groups {
		if len(g.instances) < 2 || g.instances[0].refused {
			continue
		}
		name := checkName(g.name)
		for i, base := 2, name; slices.Contains(names, name); i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if name != g.name {
			c.n.at(g.at, "vrrp_sync_group %s is sync_group %q in vipd", g.name, name)
		}
		names = append(names, name)
		owners := 0
		for _, in := range g.instances {
			in.syncGroup = name
			if in.basePriority == ownerPriority {
				owners++
			}
		}
		if owners > 0 && owners < len(g.instances) {
			for _, in := range g.instances {
				c.unsafe(in, g.at, "vrrp_sync_group %s has address owners (priority 255) and other members: keepalived warns that this won't work, and vipd does not behave as it then does", g.name)
			}
		}
	}
}
