// Package netif is vipd's contact with the kernel's network stack: the VRRP
// socket of an interface (Conn), the virtual addresses on an interface
// and the neighbour entries left unresolved while its link was down
// (Addrs), the announcements that tell the segment where they live
// (Announcer: gratuitous ARP, unsolicited neighbour advertisements), the
// kernel's link and address events (Events), and the routes to VIPs that a
// routing daemon of the node (FRR, BIRD) exports (Routes).
//
// It holds no protocol logic: pkg/vrrp builds and checks the VRRP messages
// and decides when to send, add, remove and announce. Consumers declare the
// small interfaces they need and fake them in unit tests; this package is
// tested over real sockets in network-namespace labs (internal/lab).
//
// Every socket is opened in the network namespace of the calling thread
// and stays there, and the helpers that look at interfaces (LinkLocal,
// PrimaryIPv4, LocalAddrs, Addrs with a nil handle) work in that namespace,
// so tests may call them inside lab.Host.Do.
//
// The frames on the wire match keepalived 2.2.7's: adverts with TOS /
// traffic class 0xc0 and TTL / hop limit 255, gratuitous ARP requests of 42
// bytes, unsolicited neighbour advertisements sent from the virtual address
// itself with the Override flag and no flow label.
package netif
