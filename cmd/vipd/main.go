// Command vipd is a VRRP daemon that keeps virtual IP addresses on exactly
// one healthy node of a cluster.
//
//	vipd -config /etc/vipd/vipd.toml [-node NAME]
//	vipd -t -config FILE        check a configuration file and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/daemon"
	"github.com/vipd/vipd/pkg/netif"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vipd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/vipd/vipd.toml", "configuration file")
	node := fs.String("node", "", "this node's name in [[cluster.node]] (default: found by its addresses)")
	test := fs.Bool("t", false, "check the configuration file and exit: 0 if valid, 1 if not")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vipd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "vipd", version)
		return 0
	}

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *test {
		return check(cfg, *node, stdout, stderr)
	}

	log := newLogger(stderr, cfg.Daemon.LogLevel)
	if err := daemon.CheckCapabilities(); err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	local, err := netif.LocalAddrs()
	if err != nil {
		log.Error("cannot list local addresses", "error", err)
		return 1
	}
	self, err := cfg.Self(*node, local)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	instances, err := cfg.ForNode(self)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("starting", "version", version, "config", cfg.Path, "node", self, "instances", len(instances))
	d := daemon.New(instances, log)
	if err := d.Run(ctx, func() { log.Info("all instances started") }); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// check is vipd -t: the file parsed; now resolve it for every node (or
// the one named) so that node-specific mistakes are found too.
func check(cfg *config.Config, node string, stdout, stderr io.Writer) int {
	nodes := []string{node}
	if node == "" && cfg.Cluster != nil {
		nodes = nodes[:0]
		for _, n := range cfg.Cluster.Nodes {
			nodes = append(nodes, n.Name)
		}
	}
	for _, n := range nodes {
		instances, err := cfg.ForNode(n)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, inst := range instances {
			who := n
			if who == "" {
				who = "this node"
			}
			fmt.Fprintf(stdout, "%s: instance %q vrid %d on %s: priority %d, %v\n",
				who, inst.Name, inst.VRID, inst.Interface, inst.Priority, inst.VIPs)
		}
	}
	fmt.Fprintf(stdout, "%s: configuration OK\n", cfg.Path)
	return 0
}

// newLogger logs text to w; under systemd (JOURNAL_STREAM set) without
// timestamps, which journald adds.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
