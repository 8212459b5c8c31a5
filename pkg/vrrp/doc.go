// Package vrrp is the protocol core of vipd: the VRRP advertisement codec
// (RFC 9568 / RFC 5798 version 3 for IPv4 and IPv6, RFC 3768 version 2 for
// IPv4), the receive checks that decide whether an advertisement is accepted,
// and a pure per-virtual-router state machine (Initialize, Backup, Master).
//
// The package decides; it performs no I/O. It never reads the clock: every
// event carries the time it happened, and the machine reports the deadline of
// its next timer, so tests drive it with a fake clock.
//
// A machine in a sync group (Config.Grouped) follows the RFC but for one
// rule: its group decides when it becomes master (WantsMaster, Promote),
// and may take it back to backup (Demote).
package vrrp
