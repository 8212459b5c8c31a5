// Package lab builds throw-away networks of Linux network namespaces for
// integration tests.
//
// A Lab is one Ethernet segment: a bridge living in a namespace of its own
// (the "switch"), never in the namespace the tests run in. Each Host is a
// further namespace whose eth0 is one end of a veth pair; the other end is a
// port of the bridge. Everything a Lab creates is removed by t.Cleanup, also
// when the test fails half-way, so tests and test binaries can run in
// parallel without seeing each other: namespace names carry the process id and
// a random suffix. Attach gives a host a further interface (a NIC) on the
// segment of another Lab: a node with two network cards.
//
// The package needs root, the ip command (iproute2) and, for Capture, tcpdump.
// Without them a test is skipped, or fails when the environment variable
// VIPD_REQUIRE_NETNS is 1, so that a CI that is meant to run the lab tests
// cannot pass by skipping them.
//
// Faults make the segment misbehave: Loss, OneWay and DropMulticast are
// nftables rules on the bridge (nft needed), Snooping turns on IGMP and
// MLD snooping with a querier, and a host's Wire is a forwarder of the
// lab's own between the host and the bridge that delays, reorders,
// duplicates, drops or holds frames, as netem would where the kernel has
// it. A HolderWatch samples which hosts have a VIP bound, a NeighbourWatch
// which of them a client sends to for it.
//
// An APIServer stands in for kube-apiserver in a host, with a serving
// certificate of a KubeadmPKI: a cluster CA and certificates made as kubeadm
// makes them, which name "kubernetes" but never 127.0.0.1. A KubeadmPKI
// needs no root.
//
// Tests must use documentation addresses only (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): the lab segment is
// isolated, but the addresses show up in captures and logs.
package lab
