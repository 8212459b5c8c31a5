// Package config reads vipd's configuration: one TOML file per cluster,
// identical on every node (by default /etc/vipd/vipd.toml).
//
// The file has up to four kinds of tables. [cluster] lists the nodes in
// order of preference and gives instances a default interface and advert
// interval; [daemon] sets the control socket, metrics listener and log level;
// each [[check]] probes a local service (a health.Spec); each [[instance]] is
// one virtual router: a VRID on an interface with its VIPs, and the checks
// and interfaces its priority depends on. configs/vipd.toml in the
// repository documents every key.
//
// Parse decodes the file into raw structs (one per table), rejects unknown
// keys, then validates each table into the typed Config. Every problem is
// reported as an *Error naming the file, the line, the table, the key and
// what is allowed, so that one run lists everything to fix.
//
// The same file serves every node, so what differs between nodes is derived,
// not written: Self finds which node this host is (by -node NAME, or by an
// address it holds), and ForNode resolves the instances for that node. A node
// gets priority 250 for an instance if it comes first in the instance's
// order (its order key, then the nodes it leaves out in [cluster] order),
// 240 if second, and so on down to 10 for the 25th, the most a cluster may
// have; the step stays fixed so that adding a node never changes the
// priorities of the others. An explicit priority applies to every node. For
// unicast instances the peers are the other nodes' addresses of each VIP
// family (address for IPv4, address6 for IPv6) and the source is the node's
// own.
//
// An instance tracks checks by name, each with a weight that health.Effective
// applies as keepalived does (0: fault while the check fails), and the links
// of its own interface and of track_interfaces. Parse checks that what is
// tracked exists, but not that exec programs are safe to run nor that
// certificate files exist: the daemon finds that out when it builds the
// checkers. Report shows, for vipd -t, each node's priority with each check
// failing and how long the VIP takes to move, and warns about tracking that
// cannot work as written.
//
// Without [cluster] the file describes one node, as a keepalived
// configuration does: each instance must set its priority, and unicast
// instances list unicast_peers (and optionally unicast_source) themselves.
package config
