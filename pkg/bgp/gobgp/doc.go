// Package gobgp announces VIPs to routers over BGP, with GoBGP embedded as
// a library: vipd runs no BGP code of its own.
//
// A Speaker holds the routes the node wants announced, each with a
// preference (bgp.Pref), and its sessions to the configured peers. It
// connects to every peer and never listens: the routers are configured
// with the nodes as neighbours. IPv4 routes go to IPv4 peers and IPv6
// routes to IPv6 peers, each with the node's address of the session as
// next hop.
//
// Run starts the speaker and, when its context ends, closes every session
// with a Cease, which makes the routers drop the node's routes at once.
// Announce and Withdraw may be called at any time, also before Run or
// after it ended; the routes wanted are announced whenever sessions are
// up. Status reports the sessions and the routes announced.
//
// GoBGP has no BFD: a dead node's routes are dropped by the routers when
// the hold time expires (three keepalives missed). Where faster detection
// is needed, the node's own FRR or BIRD can run BFD and export the routes
// vipd installs in a kernel table (netif.Routes).
package gobgp
