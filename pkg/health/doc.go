// Package health tells vipd whether the node it runs on should hold its
// virtual IPs: it probes the local services the VIPs lead to (kube-apiserver,
// a load balancer) and follows the links of the interfaces they depend on.
//
// A Spec describes a check: an http or https GET that must answer one of the
// expected status codes, a tcp connect, an exec of a program that must
// exit 0, or a count of running processes (by name, command line or pid
// file, as keepalived's vrrp_track_process) that must reach a quorum. New builds its Checker, which runs one probe within the deadline of
// its context. HTTP probes never reuse a connection and ignore proxy
// settings; exec probes run without a shell, in a process group that is
// killed as a whole at the timeout, and only programs that CheckOwnership
// finds safe (root's, in root's directories) are run.
//
// An https check verifies the server's certificate for ServerName, by
// default the URL's host, so that a check of 127.0.0.1 can verify a
// kube-apiserver certificate by its name "kubernetes". Its files (CA bundle,
// client certificate and key) are read by the probes, not by New: at the
// first probe, then whenever a stat on each probe shows a file changed, so
// that files written after vipd started, renewed certificates and a rotated
// CA take effect without a restart. While a file is missing or invalid the
// probes fail and say so ("ca_file /etc/kubernetes/pki/ca.crt: not present
// yet"); Spec.FileWarnings reports the same problems for vipd -t.
//
// A tcp, http or https check also keeps an idle connection to its target
// while it passes (unless Spec.NoWatch): a target that exits closes it at
// once, and the check then probes back to back until it fails Fall times or
// passes, instead of waiting for its next interval. A process check holds a
// pidfd of each process it counts, waited on by Go's poller, and so learns
// of an exit at once; its interval paces the scans of /proc that find
// processes that started.
//
// A Monitor runs the checks, each in its own goroutine: probes of a check
// start an interval apart and never overlap, the first after a random offset
// so that the nodes of a cluster do not probe in step. A check starts
// Unknown, becomes Healthy after Rise consecutive successes and Unhealthy
// after Fall consecutive failures. Interfaces given to the Monitor (or to a
// LinkTracker of their own) are followed through the kernel's link events and
// appear among the checks as "link:NAME", Healthy while up with carrier.
//
// Consumers read a Status per name (for vipctl status) and are notified of
// changes of State on a channel with room for one notification, which a
// single goroutine drains before recomputing the priority of each virtual
// router with Effective: weight 0 puts the router in fault while a check is
// not healthy, other weights move its priority as keepalived's do.
//
// Everything runs on the real clock; the tests drive the Monitor inside
// testing/synctest bubbles, the checkers against real servers and programs,
// and the LinkTracker in a network-namespace lab.
package health
