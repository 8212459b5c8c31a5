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
	"runtime"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/daemon"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/metrics"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		// One P, like keepalived's one VRRP thread. The daemon's work
		// is many small events (an advert, a timer), each waking a
		// goroutine; with an idle P besides, every wake-up also wakes a
		// second thread that spins, finds nothing and sleeps again,
		// which halves the CPU a backup spends (make bench). Nothing in
		// the daemon needs a second core. GOMAXPROCS in the
		// environment overrides this.
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vipd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "configuration file")
	node := fs.String("node", "", "this node's name in [[cluster.node]] (default: found by its addresses)")
	test := fs.Bool("t", false, "check the configuration file, print each node's priorities and failover times, and exit: 0 if valid, 1 if not")
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

	if err := config.CheckPermissions(*path); err != nil {
		fmt.Fprintln(stderr, "vipd:", err)
		return 1
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
	if err := serve(cfg, *node, log); err != nil {
		log.Error("stopped", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// resolve returns what node self runs.
func resolve(cfg *config.Config, self string) (daemon.Config, error) {
	instances, err := cfg.ForNode(self)
	if err != nil {
		return daemon.Config{}, err
	}
	b, err := bgpConfig(cfg, self)
	if err != nil {
		return daemon.Config{}, err
	}
	return daemon.Config{Checks: cfg.Checks, Instances: instances, BGP: b}, nil
}

// serve runs the daemon, its control socket, metrics, systemd
// notifications and reloads until SIGTERM or SIGINT. node is -node: ""
// finds the node by its addresses, waiting for one if none is there yet.
func serve(cfg *config.Config, node string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	gate := &gate{waiting: control.Status{Version: version, Config: cfg.Path, Started: time.Now()}}
	ctl, err := control.Listen(cfg.Daemon.ControlSocket, gate, log)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	// The servers outlive the daemon's resignation, so vipctl answers
	// while masters hand over.
	sctx, stopServers := context.WithCancel(context.Background())
	defer stopServers()
	g.Go(func() error { return ctl.Serve(sctx) })
	g.Go(func() error {
		watchdog(gctx, gate, log)
		return nil
	})

	// A node that waits for its address is up and well: systemd hears
	// so, rather than failing the start after its timeout and
	// restarting vipd into the same wait.
	self, err := waitForNode(gctx, cfg, node, func(what string) {
		gate.wait(what)
		sd.SdNotify(false, sd.SdNotifyReady+"\nSTATUS=waiting for "+what)
	}, log)
	if err != nil {
		stopServers()
		g.Wait()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	dcfg, err := resolve(cfg, self)
	if err != nil {
		stopServers()
		g.Wait()
		return err
	}
	d := daemon.New(dcfg, daemon.Options{
		Node:       self,
		ConfigPath: cfg.Path,
		Version:    version,
		StateDir:   cfg.Daemon.StateDir,
		Logger:     log,
		NewSpeaker: newSpeaker,
		OnChange: func(summary string) {
			sd.SdNotify(false, "STATUS="+summary)
		},
	})
	gate.set(d)
	if cfg.Daemon.MetricsListen != "" {
		reg := prometheus.NewRegistry()
		if err := metrics.New(d, reg, metrics.BuildInfo{Version: version, GoVersion: runtime.Version()}); err != nil {
			return err
		}
		g.Go(func() error { return metrics.Serve(sctx, cfg.Daemon.MetricsListen, reg, log) })
	}

	log.Info("starting", "version", version, "config", cfg.Path, "node", self, "instances", len(dcfg.Instances))
	ready := make(chan struct{})
	g.Go(func() error {
		defer stopServers()
		err := d.Run(gctx, func() {
			log.Info("all instances started")
			close(ready)
		})
		sd.SdNotify(false, sd.SdNotifyStopping)
		return err
	})
	g.Go(func() error {
		select {
		case <-ready:
		case <-gctx.Done():
			return nil
		}
		sd.SdNotify(false, sd.SdNotifyReady)
		return nil
	})
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				reload(gctx, d, cfg.Path, self, log)
			}
		}
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// watchdog keeps systemd's watchdog fed while every router's loop answers;
// a stuck router stops the pings and systemd restarts vipd.
func watchdog(ctx context.Context, d *gate, log *slog.Logger) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, interval/3)
		err := d.Live(pctx)
		cancel()
		if err != nil {
			log.Error("watchdog: not feeding systemd", "error", err)
			continue
		}
		sd.SdNotify(false, sd.SdNotifyWatchdog)
	}
}

// reload re-reads the configuration on SIGHUP. An invalid file is refused
// and the running configuration kept.
func reload(ctx context.Context, d *daemon.Daemon, path, self string, log *slog.Logger) {
	sd.SdNotify(false, sd.SdNotifyReloading)
	defer sd.SdNotify(false, sd.SdNotifyReady)
	err := config.CheckPermissions(path)
	var cfg *config.Config
	if err == nil {
		cfg, err = config.Load(path)
	}
	if err == nil {
		var dcfg daemon.Config
		dcfg, err = resolve(cfg, self)
		if err == nil {
			err = d.Reload(ctx, dcfg)
		}
	}
	if err != nil {
		log.Error("reload refused; the running configuration stays", "config", path, "error", err)
		return
	}
	log.Info("reload done", "config", path)
}

// check is vipd -t: the file parsed; now resolve it for every node (or
// the one named), check that each check can be built (exec programs safe
// to run, CA files readable), and print the priorities and failover times.
func check(cfg *config.Config, node string, stdout, stderr io.Writer) int {
	if node != "" {
		if _, err := cfg.ForNode(node); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	failed := false
	if needsBGP(cfg) && newSpeaker == nil {
		fmt.Fprintf(stderr, "%s: %v\n", cfg.Path, daemon.ErrNoBGP)
		failed = true
	}
	for _, s := range cfg.Checks {
		if _, err := health.New(s); err != nil {
			fmt.Fprintf(stderr, "%s: check %q: %v\n", cfg.Path, s.Name, err)
			failed = true
		}
	}
	if err := cfg.Report(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if failed {
		return 1
	}
	// Files a check needs may come later (kubeadm init writes the CA
	// after vipd starts): vipd runs without them, so -t only warns.
	for _, s := range cfg.Checks {
		for _, w := range s.FileWarnings() {
			fmt.Fprintf(stdout, "warning: check %q: %s (the check fails until the file is right; no restart is needed)\n", s.Name, w)
		}
		for _, w := range s.ProcessWarnings() {
			fmt.Fprintf(stdout, "warning: check %q: %s\n", s.Name, w)
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
