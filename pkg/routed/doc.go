// Package routed runs the instances whose VIPs reach clients by routing
// rather than VRRP (announce = "bgp" or "route"): every healthy node binds
// the VIPs and announces routes to them, each with the preference of its
// priority, and routers send the traffic to the preferred node, or spread
// it over all of them (ECMP).
//
// An Instance binds its VIPs, then announces them, while the node is
// healthy, not faulted and not drained. A fault withdraws the routes at
// once and unbinds the VIPs after the withdraw delay, which the routers
// have to move the traffic elsewhere. A drain or a stop is make before
// break: the routes get the worst preference, so that routers move the
// traffic as soon as another node's route is usable and keep a route
// meanwhile; after the withdraw delay they are withdrawn and the VIPs
// unbound. The announcements go through a Publisher: a BGP speaker
// (package bgp/gobgp), or routes in a kernel table for the node's FRR or
// BIRD (KernelRoutes).
//
// What to announce is decided by a pure function of the configuration
// and the health (Target); Run only carries it out, in order.
package routed
