// Package daemon wires one node's instances to the system: it opens one
// VRRP socket per interface and address family, builds a router.Router per
// instance and family, removes VIPs a crashed run left behind, and runs
// everything until its context ends, when masters resign.
package daemon
