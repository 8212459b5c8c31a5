// Package hooks runs the notify programs that operators attach to an
// instance, as keepalived runs its notify scripts: on every state transition
// of the instance vipd runs the configured program with its configured
// arguments followed by five more,
//
//	instance family old-state new-state reason
//
// for example
//
//	/usr/local/lib/vipd/on-change --arg kube-apiserver ipv4 BACKUP MASTER "no advertisement for 306ms"
//
// Family is ipv4 or ipv6, the states are INIT, BACKUP, MASTER or FAULT, and
// the reason is always passed, empty if there is none, so that the positions
// never move. The same facts are in the environment: VIPD_INSTANCE,
// VIPD_FAMILY, VIPD_VRID, VIPD_FROM, VIPD_TO, VIPD_REASON, VIPD_VIPS (the
// VIPs of the family in prefix notation, separated by spaces) and
// VIPD_PRIORITY. Nothing else of vipd's environment is passed on: PATH is
// fixed to /usr/sbin:/usr/bin:/sbin:/bin, stdin is /dev/null and the
// working directory is /, so that a hook behaves the same under systemd as
// from a shell.
//
// # Order
//
// Hooks of one key run strictly in the order of Notify, one at a time: a
// single worker goroutine per key takes the events from a queue of its own.
// Hooks of different keys run concurrently. vipd uses the instance name as
// the key, as keepalived runs per instance: the IPv4 and IPv6 exchanges of
// an instance share one notify program, and a program that tracks the
// instance (writes a state file, moves a route) must see both families'
// transitions in the order they happened, never interleaved.
//
// # Never blocking the protocol
//
// Notify only enqueues and returns. The queue of a key is bounded
// (Options.QueueLen, 64 by default); when it is full the new event is
// dropped, logged at error level and counted (Stats). Dropping the oldest
// pending event instead would hand the program a sequence of transitions
// that never happened; dropping the newest at least keeps what it sees in
// order, and a program that hangs for 64 transitions is broken anyway.
//
// Each run has a timeout (Options.Timeout, 30s by default). The program
// runs in a process group of its own; at the timeout the whole group is
// killed with SIGKILL, the failure is logged and the queue goes on. A
// program that exits in time may leave processes behind, as keepalived's
// notify scripts may: they are not killed, but they lose the output pipe
// shortly after the program exits, so they should not write to it.
// Output (stdout and stderr together, at most MaxOutput bytes) is logged at
// debug level on success and at warn level, with the exit status, on
// failure.
//
// # Shutdown
//
// When the context of Run ends, each worker lets the run in progress
// finish, then stops accepting events, runs the ones already queued, each
// with its normal timeout, and exits; Run returns when all have. Events
// notified after that are dropped and counted. The last transitions (MASTER to INIT as vipd gives
// up its VIPs) matter to operators, so cancel Run's context only after the
// routers that call Notify have stopped, not together with them.
//
// # Security
//
// vipd runs as root, so Register refuses a program that is not an
// absolute path or that someone other than root could replace, following
// health.CheckOwnership (keepalived's script security rule).
package hooks
