// Package kaconf converts keepalived configurations into vipd's, for
// `vipctl convert-keepalived` and for migrating a running keepalived
// cluster to vipd one node at a time.
//
// The promise is that the output behaves as keepalived 2.2 did with the
// same file, on the wire and in failover, or the conversion says it does
// not: every vrrp_instance gets a Verdict, safe for a mixed fleet of
// keepalived and vipd nodes or not and why, and a file keepalived itself
// would not run is refused with its file and line.
//
// # Reading keepalived.conf
//
// The parser follows keepalived's own (lib/parser.c) rather than a grammar
// of its own invention: a comment starts at '#' or '!' outside double
// quotes; each line is cut at every '{' and '}' outside quotes, so a
// block may open on its keyword's line or the next, and one-line blocks
// ("track_script { chk }") work; a "double-quoted string" is one word;
// `include PATTERN` splices in the files matching a glob (with {a,b}
// braces), relative to the directory of the including file, anywhere, even
// inside a block, an absolute one under Options.Root; $NAME=VALUE defines a
// parameter that $NAME and ${NAME} are replaced with; "@ID line" and
// "@^ID line" are kept by Options.ConfigID, keepalived's -i. Multi-line
// definitions and ~SEQ are rare; they are noted and skipped. Every
// statement keeps its file and line for the notes.
//
// The statements are then read as keepalived 2.2.7 reads them
// (vrrp_parser.c, vrrp.c): numbers as its read_* functions read them while
// it runs (kanum.go), in file order (a vrrp_script after the instance that
// tracks it is not found; the first address fixes an instance's family),
// with keepalived's fallback for each invalid value, and completed as
// vrrp_complete_instance does (strict mode, the version, priority and
// state, authentication, preemption, the advert interval, the tracking of
// sync group members and of the address owner). keepalived runs scripts
// without a shell, and so do the checks made of them.
//
// The parser stops where guessing would hide a mistake: a block never
// closed, a '}' closing nothing, an unterminated quote (ErrSyntax); the
// converter refuses what keepalived would not start with, such as a
// missing parameter, an instance without virtual_router_id or unicast
// peers in strict mode (ErrRefused).
//
// # Converting
//
// Convert turns each keepalived.conf into one vipd configuration and lists
// as Notes everything it did not carry over, or carried over differently,
// each with its file, line and why. KEYWORDS.md in this directory maps
// every keyword to its vipd equivalent. The main rules:
//
//   - One file per node, without [cluster]. vipd's [cluster] derives
//     priorities from the order of the nodes (250, 240, ...) or sets one
//     priority for all; it cannot say "node A 101, node B 100". During a
//     rolling migration vipd and keepalived nodes share each virtual
//     router, and a vipd node at 250 would take every VIP from keepalived
//     nodes at 101, so the exact priorities matter more than a single file.
//   - Values are keepalived's effective ones, not vipd's defaults: VRRP
//     version 2 unless said otherwise (vipd's default is 3), rise and fall
//     1, a script interval of 1s and a timeout of the whole interval (less
//     a millisecond, as vipd wants it shorter).
//   - A vrrp_script that only probes (curl --fail of one URL, nc -z,
//     bash's /dev/tcp) becomes a native http, https or tcp check; anything
//     else an exec check of the words keepalived runs.
//   - A vrrp_sync_group of two or more becomes a sync_group.
//   - Differences that matter in a mixed fleet (addresses vipd drops,
//     which change the advertised address list; routes keepalived adds on
//     the master) make a verdict not safe.
//   - The result is checked as `vipd -t` does (config.Parse, then ForNode);
//     an instance vipd would reject is left out with a note saying why, so
//     that the output always loads.
//
// Given the files of several nodes at once, Convert also compares the
// virtual routers they share: the VIPs, version, interval and password,
// which keepalived and vipd both require to agree, and each node's
// unicast_src_ip among the others' unicast peers, which vipd requires and
// keepalived only with check_unicast_src; each difference is noted with
// what keepalived does with it. A state MASTER that is not the highest
// priority is pointed out: in vipd the priority alone decides.
//
// testdata/corpus holds keepalived.conf files of public projects with their
// conversions, notes, verdicts, and what keepalived 2.2.7 -t says of them.
package kaconf
