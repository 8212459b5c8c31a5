// Package bgp describes what a node announces to routers over BGP: the
// speaker's configuration and peers, the preference of a route (Pref: a
// MED and AS-path prepends, from the node's priority), and the status of
// sessions and routes. It has no BGP engine: package gobgp is the
// speaker, on GoBGP, and links in only where it is imported (vipd built
// with the bgp tag), as GoBGP adds 7 MiB to the binary.
package bgp
