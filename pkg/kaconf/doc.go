// Package kaconf converts keepalived configurations into vipd's, for
// `vipctl convert-keepalived` and for migrating a running keepalived
// cluster to vipd one node at a time.
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
// inside a block; $NAME=VALUE defines a parameter that $NAME and ${NAME}
// are replaced with. Conditional lines (@id), multi-line definitions and
// ~SEQ depend on how keepalived is run or are rare; they are noted and
// skipped. Every statement keeps its file and line for the notes.
//
// keepalived carries on after most mistakes; the parser stops only where
// guessing would hide one: a block never closed, a '}' closing nothing, an
// unterminated quote (ErrSyntax).
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
//     1, a script interval of 1s; advert_int rounded as keepalived rounds
//     it; nopreempt and preempt_delay dropped where keepalived ignores them
//     (state MASTER); a state MASTER instance without priority gets 255;
//     track weights of sync group members set to 0.
//   - A vrrp_script that only probes (curl of one URL, nc -z, bash's
//     /dev/tcp) becomes a native http, https or tcp check; anything else an
//     exec check, run without a shell: scripts with shell syntax run under
//     /bin/sh -c, and programs named without a path are assumed in /usr/bin.
//   - The result is checked as `vipd -t` does (config.Parse, then ForNode);
//     an instance vipd would reject is left out with a note saying why, so
//     that the output always loads.
//
// Given the files of several nodes at once, Convert also compares the
// virtual routers they share: the VIPs, version, interval and password must
// agree (vipd drops adverts that differ, as keepalived logs them), each
// node's unicast_src_ip must be among the others' unicast peers (vipd
// accepts adverts from listed peers only), and a state MASTER that is not
// the highest priority is pointed out: in vipd the priority alone decides.
package kaconf
