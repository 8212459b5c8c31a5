// Package routed runs the instances whose VIPs reach clients by routing
// rather than VRRP (announce = "bgp" or "route"): every healthy node binds
// the VIPs and announces routes to them, each with the preference of its
// priority, and routers send the traffic to the preferred node, or spread
// it over all of them (ECMP).
//
// An Instance binds its VIPs, then announces them, while the node is
// healthy, not faulted and not drained; a fault withdraws the routes at
// once. Leaving (a fault, a drain, a stop) is make before break: the
// routes are withdrawn, the routers are given the withdraw delay to move
// the traffic elsewhere, and only then are the VIPs unbound. The
// announcements go through a Publisher: a BGP speaker (package bgp), or
// routes in a kernel table for the node's FRR or BIRD (Routes).
//
// What to announce is decided by a pure function of the configuration
// and the health (Target); Run only carries it out, in order.
package routed
