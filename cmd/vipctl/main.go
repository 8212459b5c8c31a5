// Command vipctl shows and steers a running vipd through its control
// socket.
//
//	vipctl status [-o table|json] [NAME]   instances, and the detail of NAME
//	vipctl drain [NAME...]                 give up mastership (all instances without names)
//	vipctl resume [NAME...]                undo drain
//	vipctl version                         versions of vipctl and the running vipd
//	vipctl convert-keepalived [-o DIR] [-id ID] [-root DIR] [-unsafe] FILE...
//	                                       keepalived.conf files (one per node) to vipd's
//	vipctl manifest static-pod|daemonset -image IMAGE [CONFIG]
//	                                       a Kubernetes manifest that runs vipd
//
// Every command accepts -socket PATH, before or after its name.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/control"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

// callTimeout bounds a call to the daemon, which answers from memory.
const callTimeout = 5 * time.Second

const usage = `usage: vipctl [-socket PATH] COMMAND [ARGS]

Commands:
  status [-o table|json] [NAME]  show the instances; with NAME, its checks,
                                 transitions and counters too
  drain [NAME...]                make instances give up mastership and stay
                                 backups (all instances without names)
  resume [NAME...]               undo drain
  live                           exit 0 when every virtual router of vipd
                                 answers (a liveness probe), 1 when one is
                                 stuck or vipd does not answer
  version                        print the versions of vipctl and vipd
  convert-keepalived [-o DIR] [-id ID] [-root DIR] [-unsafe] FILE...
                                 convert keepalived.conf files, one per node,
                                 into vipd configurations (stdout, or
                                 DIR/NODE.toml with -o); what does not carry
                                 over is listed on stderr, with a verdict per
                                 instance; nothing is written unless every
                                 instance is safe for a mixed fleet (or with
                                 -unsafe). -id is keepalived's -i for @ID
                                 lines (-id FILE=ID for one file), -root a
                                 copy of /etc for absolute includes
  manifest static-pod|daemonset -image IMAGE [CONFIG]
                                 write a static pod or DaemonSet that runs
                                 vipd with CONFIG (vipctl manifest -h)

Flags, accepted before or after the command:
  -socket PATH                   vipd's control socket (default ` + control.DefaultSocket + `)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	c := cli{stdout: stdout, stderr: stderr, now: time.Now, loc: time.Local, version: version}
	return c.run(args)
}

// cli is one run of vipctl. Tests fix its clock and time zone.
type cli struct {
	stdout, stderr io.Writer
	now            func() time.Time
	loc            *time.Location
	version        string
}

func (c cli) run(args []string) int {
	global := newFlagSet("vipctl")
	socket := global.String("socket", control.DefaultSocket, "")
	if err := global.Parse(args); err != nil {
		return c.usageError(err)
	}
	if global.NArg() == 0 {
		return c.usageError(errors.New("no command given"))
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	switch cmd {
	case "status":
		return c.status(*socket, rest)
	case "drain", "resume":
		return c.change(cmd, *socket, rest)
	case "live":
		return c.live(*socket, rest)
	case "version":
		return c.showVersion(*socket, rest)
	case "convert-keepalived":
		return c.convertKeepalived(rest)
	case "manifest":
		return c.manifest(rest)
	case "help":
		fmt.Fprint(c.stdout, usage)
		return 0
	}
	return c.usageError(fmt.Errorf("unknown command %q", cmd))
}

// newFlagSet returns a flag set that reports errors to its caller
// instead of printing the flag package's own usage.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses the flags of fs found anywhere in args, so that
// "status -socket X api" and "status api -socket X" both work, and returns
// the other arguments. "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := args[:len(args)-len(rest)]; len(used) > 0 && used[len(used)-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandFlags returns the flag set of a command, with -socket defaulting
// to the value given before the command.
func commandFlags(name string, socket *string) *flag.FlagSet {
	fs := newFlagSet(name)
	fs.StringVar(socket, "socket", *socket, "")
	return fs
}

func (c cli) usageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, usage)
		return 0
	}
	fmt.Fprintf(c.stderr, "vipctl: %v\n%s", err, usage)
	return 2
}

// fail reports an error of a call and returns the exit status 1. what
// names the call for errors the daemon answered.
func (c cli) fail(what, socket string, err error) int {
	var ae *control.APIError
	switch {
	case errors.Is(err, control.ErrForbidden):
		fmt.Fprintf(c.stderr, "vipctl: %s refused: %v\n", what, err)
	case errors.As(err, &ae):
		fmt.Fprintf(c.stderr, "vipctl: %s: %v\n", what, err)
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(c.stderr, "vipctl: vipd did not answer on %s within %v\n", socket, callTimeout)
	case errors.Is(err, fs.ErrPermission):
		fmt.Fprintf(c.stderr, "vipctl: %v (the socket is root's: run vipctl as root)\n", err)
	default:
		fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
	}
	return 1
}

func (c cli) status(socket string, args []string) int {
	fs := commandFlags("status", &socket)
	output := fs.String("o", "table", "")
	pos, err := parse(fs, args)
	switch {
	case err != nil:
		return c.usageError(fmt.Errorf("status: %w", err))
	case len(pos) > 1:
		return c.usageError(fmt.Errorf("status: one instance name at most, got %q", pos))
	case *output != "table" && *output != "json":
		return c.usageError(fmt.Errorf("status: -o %q: want table or json", *output))
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	st, err := control.NewClient(socket).Status(ctx)
	if err != nil {
		return c.fail("status", socket, err)
	}
	insts := st.Instances
	if len(pos) == 1 {
		if st, err = only(st, pos[0]); err != nil {
			fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
			return 1
		}
		insts = st.Instances
	}
	f := formatter{now: c.now(), loc: c.loc}
	if st.Waiting != "" && *output != "json" {
		fmt.Fprintf(c.stdout, "vipd is waiting for %s\n", st.Waiting)
	}
	switch {
	case *output == "json":
		err = writeJSON(c.stdout, st)
	case len(pos) == 1 && len(st.Instances) > 0:
		err = f.detail(c.stdout, st)
	case len(insts) > 0 || len(st.Routed) == 0:
		err = f.table(c.stdout, insts)
	}
	if err == nil && *output != "json" {
		err = f.routed(c.stdout, st, len(insts) > 0)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
		return 1
	}
	return 0
}

// only returns st with the instances named name (one per family) and the
// checks they track.
func only(st control.Status, name string) (control.Status, error) {
	var insts []control.Instance
	var routed []control.Routed
	tracked := make(map[string]bool)
	for _, in := range st.Instances {
		if in.Name != name {
			continue
		}
		insts = append(insts, in)
		for _, tr := range in.Tracks {
			tracked[tr.Check] = true
		}
	}
	for _, r := range st.Routed {
		if r.Name != name {
			continue
		}
		routed = append(routed, r)
		for _, tr := range r.Tracks {
			tracked[tr.Check] = true
		}
	}
	if len(insts) == 0 && len(routed) == 0 {
		names := make([]string, 0, len(st.Instances)+len(st.Routed))
		for _, in := range st.Instances {
			names = append(names, in.Name)
		}
		for _, r := range st.Routed {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		return st, fmt.Errorf("no instance named %q (there are: %s)", name, strings.Join(slices.Compact(names), ", "))
	}
	checks := []control.Check{}
	for _, ch := range st.Checks {
		if tracked[ch.Name] {
			checks = append(checks, ch)
		}
	}
	st.Instances, st.Routed, st.Checks = insts, routed, checks
	if len(routed) == 0 || routed[0].Announce != "bgp" {
		st.BGP = nil
	}
	return st, nil
}

func (c cli) change(cmd, socket string, args []string) int {
	names, err := parse(commandFlags(cmd, &socket), args)
	if err != nil {
		return c.usageError(fmt.Errorf("%s: %w", cmd, err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	client := control.NewClient(socket)
	call, done := client.Drain, "drained"
	if cmd == "resume" {
		call, done = client.Resume, "resumed"
	}
	affected, err := call(ctx, names...)
	if err != nil {
		return c.fail(cmd, socket, err)
	}
	if len(affected) == 0 {
		fmt.Fprintf(c.stdout, "no instance %s: vipd runs none\n", done)
	}
	for _, n := range affected {
		fmt.Fprintln(c.stdout, done, n)
	}
	return 0
}

func (c cli) live(socket string, args []string) int {
	pos, err := parse(commandFlags("live", &socket), args)
	if err != nil {
		return c.usageError(fmt.Errorf("live: %w", err))
	}
	if len(pos) > 0 {
		return c.usageError(fmt.Errorf("live: unexpected argument %q", pos[0]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := control.NewClient(socket).Live(ctx); err != nil {
		return c.fail("live", socket, err)
	}
	fmt.Fprintln(c.stdout, "live")
	return 0
}

func (c cli) showVersion(socket string, args []string) int {
	pos, err := parse(commandFlags("version", &socket), args)
	if err != nil {
		return c.usageError(fmt.Errorf("version: %w", err))
	}
	if len(pos) > 0 {
		return c.usageError(fmt.Errorf("version: unexpected argument %q", pos[0]))
	}
	fmt.Fprintln(c.stdout, "vipctl", c.version)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	// The daemon's version is a bonus: vipctl's own is what was asked.
	if st, err := control.NewClient(socket).Status(ctx); err == nil {
		fmt.Fprintln(c.stdout, "vipd", st.Version)
	}
	return 0
}
