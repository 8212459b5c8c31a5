// Package bench compares vipd with keepalived in the network-namespace lab:
// failover and handover times on the wire, what a client pinging the VIP
// sees, how fast an API server failure moves the VIP, CPU and memory, and
// start-up time. Both daemons run the same settings, one after the other,
// on the same lab segment.
//
// The measurements are a test, TestBench, run by `sudo make bench` (root,
// tcpdump, ping, curl and keepalived needed). It is skipped unless the
// environment variable VIPD_BENCH is 1, so that `make test` passes over it.
// It prints a markdown table and writes results.md and takeover.svg.
//
// The package itself holds the parts that need no lab: summaries of
// repeated measurements, the report table, the takeover chart, and a reader
// of the capture files that keeps each frame's time, with decoders of the
// two frames the measurements look for (VRRP adverts and gratuitous ARPs).
package bench
