// Package daemon runs one node's instances.
//
// It builds a router.Router per instance and address family on a shared
// VRRP socket per interface and family, hands the routers the results of
// their checks and drains, runs their notify hooks, guards their VIPs
// against other address managers, removes VIPs a crashed run left behind,
// and runs everything until its context ends, when masters resign.
//
// The routers of the instances of one sync_group change state together,
// as keepalived's vrrp_sync_group (sync.go): a fault of one faults all, a
// master that hears a better one takes the others to backup, and they
// become master only together.
//
// Instances announced by routing (announce = "bgp" or "route") run beside
// the routers (routed.go): a routed.Instance each, fed the same health and
// drains, and for those announced over BGP one Speaker, which vipd links
// in only when built with GoBGP (Options.NewSpeaker). At the end they
// leave make before break while the masters resign, and the speaker stops
// last.
//
// The start-up and each reload are a plan (plan.go: keep, reconfigure,
// replace, start or stop each router) applied all or nothing (reload.go:
// prepare what can fail, then commit). The host is reached through a
// System (system.go; netsys.go is the real one, through netlink and raw
// sockets), so that tests run the daemon against a fake, in synctest.
package daemon
