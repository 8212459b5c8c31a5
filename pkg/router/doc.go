// Package router runs VRRP virtual routers: a Listener reads the shared
// VRRP socket of one interface and address family, checks each packet and
// hands accepted advertisements to the Router of their VRID; a Router feeds
// them and its timer to a vrrp.Machine and carries out the actions the
// machine returns (send advertisements, bind, announce and unbind VIPs).
//
// Sockets, addresses and announcements are reached through small interfaces
// declared here, so tests run routers against fakes in a synctest bubble.
package router
