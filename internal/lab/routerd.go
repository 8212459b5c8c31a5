package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A Daemon is a routing daemon (FRR's zebra and bgpd, or BIRD) running in
// a host with its configuration, sockets, pid files and logs in a
// directory of the test's: it never uses the system's /etc/frr, /run/frr
// or /etc/bird, nor their services.
type Daemon struct {
	h     *Host
	dir   string
	kind  string // "frr" or "bird"
	procs []*daemonProc
}

type daemonProc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// Dir returns the directory of the daemon's files.
func (d *Daemon) Dir() string { return d.dir }

// StartFRR runs FRR's zebra and bgpd in h with the configuration conf
// (frr.conf syntax; each daemon ignores the other's commands), and stops
// them at cleanup. It needs FRR installed (Debian's frr); without it the
// test is skipped, or fails when VIPD_REQUIRE_NETNS is 1.
func StartFRR(t testing.TB, h *Host, conf string) *Daemon {
	t.Helper()
	const libexec = "/usr/lib/frr"
	for _, p := range []string{"zebra", "bgpd"} {
		if _, err := os.Stat(filepath.Join(libexec, p)); err != nil {
			skip(t, "lab: FRR is not installed: %v", err)
		}
	}
	RequireCommand(t, "vtysh")
	// zebra drops to the frr user (it refuses to run as root outside
	// the frrvty group), so its directory is frr's and the test's
	// directory above it may be traversed.
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatalf("lab: FRR: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(t.TempDir(), "frr")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "frr.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{h: h, dir: dir, kind: "frr"}
	t.Cleanup(func() { d.stop(t) })
	common := []string{"-f", cfg, "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir, "-P", "0"}
	d.start(t, "zebra", filepath.Join(libexec, "zebra"), append([]string{"-u", "frr", "-g", "frr",
		"-i", filepath.Join(dir, "zebra.pid"), "--log", "file:" + filepath.Join(dir, "zebra.log")}, common...)...)
	d.waitFile(t, "zebra", filepath.Join(dir, "zserv.api"))
	d.start(t, "bgpd", filepath.Join(libexec, "bgpd"), append([]string{"-S",
		"-i", filepath.Join(dir, "bgpd.pid"), "--log", "file:" + filepath.Join(dir, "bgpd.log")}, common...)...)
	d.waitFile(t, "bgpd", filepath.Join(dir, "bgpd.vty"))
	return d
}

// StartBIRD runs BIRD 2 in h with the configuration conf, and stops it at
// cleanup. It needs BIRD installed (Debian's bird2); without it the test is
// skipped, or fails when VIPD_REQUIRE_NETNS is 1.
func StartBIRD(t testing.TB, h *Host, conf string) *Daemon {
	t.Helper()
	RequireCommand(t, "bird")
	RequireCommand(t, "birdc")
	dir := filepath.Join(t.TempDir(), "bird")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bird", "-p", "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("lab: BIRD refuses the configuration: %v\n%s\n%s", err, out, conf)
	}
	d := &Daemon{h: h, dir: dir, kind: "bird"}
	t.Cleanup(func() { d.stop(t) })
	sock := filepath.Join(dir, "bird.ctl")
	d.start(t, "bird", "bird", "-f", "-c", cfg, "-s", sock, "-P", filepath.Join(dir, "bird.pid"))
	d.waitFile(t, "bird", sock)
	return d
}

// Command runs a command of the daemon's command-line interface (vtysh
// for FRR, birdc for BIRD) and returns its output.
func (d *Daemon) Command(t testing.TB, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var cmd *exec.Cmd
	if d.kind == "frr" {
		cmd = d.h.Exec(ctx, "vtysh", "--vty_socket", d.dir, "-c", command)
	} else {
		cmd = d.h.Exec(ctx, "birdc", "-s", filepath.Join(d.dir, "bird.ctl"), command)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lab: %s %q: %v\n%s", d.kind, command, err, out)
	}
	return string(out)
}

// start runs one process of the daemon in the host.
func (d *Daemon) start(t testing.TB, name, path string, args ...string) {
	t.Helper()
	p := &daemonProc{name: name, out: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = d.h.Exec(context.Background(), path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("lab: start %s in %s: %v", name, d.h.name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	d.procs = append(d.procs, p)
}

// waitFile waits until the process named name has made file (a socket).
func (d *Daemon) waitFile(t testing.TB, name, file string) {
	t.Helper()
	p := d.procs[len(d.procs)-1]
	deadline := time.Now().Add(settleTimeout)
	for {
		if _, err := os.Stat(file); err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("lab: %s in %s exited: %v\n%s%s", name, d.h.name, p.cmd.ProcessState, p.out, d.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: %s in %s made no %s within %v", name, d.h.name, file, settleTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logs returns the daemon's log files.
func (d *Daemon) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(d.dir, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(f), data)
	}
	return b.String()
}

// stop stops the processes, the last started first, and removes what FRR
// leaves in /var/tmp/frr.
func (d *Daemon) stop(t testing.TB) {
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if d.kind == "frr" {
			os.RemoveAll(fmt.Sprintf("/var/tmp/frr/%s.%d", p.name, p.cmd.Process.Pid))
		}
	}
	if t.Failed() {
		var out strings.Builder
		for _, p := range d.procs {
			if p.out.Len() > 0 {
				fmt.Fprintf(&out, "--- %s output\n%s", p.name, p.out)
			}
		}
		t.Logf("lab: %s in %s:\n%s%s", d.kind, d.h.name, out.String(), d.logs())
	}
}

// A Neighbor is a BGP neighbour of a router configuration.
type Neighbor struct {
	Addr netip.Addr
	ASN  uint32
}

// FRRRouter returns the configuration of an FRR router of AS asn with
// the neighbours given: 3s hold time, a connection retried every second,
// eBGP without policies, and up to 8 equal paths (eBGP or iBGP) installed
// as one multipath route. extra is added to each address family.
func FRRRouter(asn uint32, routerID netip.Addr, neighbors []Neighbor, extra map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname router\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n", asn, routerID)
	for _, n := range neighbors {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n", n.Addr, n.ASN, n.Addr, n.Addr)
	}
	for _, af := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 8\n  maximum-paths ibgp 8\n", af)
		for _, n := range neighbors {
			if n.Addr.Is6() == (af == "ipv6") {
				fmt.Fprintf(&b, "  neighbor %s activate\n", n.Addr)
			}
		}
		b.WriteString(extra[af])
		b.WriteString(" exit-address-family\n")
	}
	return b.String()
}

// BIRDRouter returns the configuration of a BIRD router of AS asn with
// the neighbours given: 3s hold time, a connection retried every second,
// routes learned from every neighbour and installed in the kernel, equal
// ones as one multipath route.
func BIRDRouter(asn uint32, routerID netip.Addr, neighbors []Neighbor) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router id %s;
protocol device {}
protocol kernel k4 { ipv4 { export all; }; merge paths on; }
protocol kernel k6 { ipv6 { export all; }; merge paths on; }
`, routerID)
	for i, n := range neighbors {
		fam := "ipv4"
		if n.Addr.Is6() {
			fam = "ipv6"
		}
		fmt.Fprintf(&b, `protocol bgp n%d {
	local as %d; neighbor %s as %d;
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
	direct;
	%s { import all; export none; gateway direct; };
}
`, i, asn, n.Addr, n.ASN, fam)
	}
	return b.String()
}

// FRRExporter returns the configuration of a node's FRR that exports to
// the router (AS 64500, at router: its IPv4 and IPv6 addresses) the routes
// vipd puts in kernel table 254 (main) with a protocol of its own, which
// zebra takes for kernel routes, with their metric as the MED. FRR 8.4
// exports kernel routes of the main table only (ip import-table is IPv4
// only); the prefix lists pick the VIPs, 203.0.113.0/24 and
// 2001:db8:f::/48.
func FRRExporter(router [2]netip.Addr, id netip.Addr, table int) string {
	if table != 254 {
		panic("lab: FRR 8.4 exports kernel routes of the main table only")
	}
	return fmt.Sprintf(`frr defaults datacenter
hostname node
ip prefix-list vips4 seq 5 permit 203.0.113.0/24 ge 32
ipv6 prefix-list vips6 seq 5 permit 2001:db8:f::/48 ge 128
route-map vips4 permit 10
 match ip address prefix-list vips4
route-map vips6 permit 10
 match ipv6 address prefix-list vips6
router bgp 64512
 bgp router-id %[3]s
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor %[1]s remote-as 64500
 neighbor %[1]s timers 1 3
 neighbor %[1]s timers connect 1
 neighbor %[2]s remote-as 64500
 neighbor %[2]s timers 1 3
 neighbor %[2]s timers connect 1
 address-family ipv4 unicast
  neighbor %[1]s activate
  redistribute kernel route-map vips4
 exit-address-family
 address-family ipv6 unicast
  neighbor %[2]s activate
  redistribute kernel route-map vips6
 exit-address-family
`, router[0], router[1], id)
}

// BIRDExporter returns the configuration of a node's BIRD that exports to
// the router (AS 64500, at router: its IPv4 and IPv6 addresses) the routes
// vipd puts in kernel table with protocol 200, with their metric as the
// MED.
func BIRDExporter(router [2]netip.Addr, id netip.Addr, table int) string {
	return fmt.Sprintf(`router id %[3]s;
protocol device {}
ipv4 table vips4;
ipv6 table vips6;
protocol kernel vipd4 { kernel table %[4]d; learn; ipv4 { table vips4; import where krt_source = 200; export none; }; }
protocol kernel vipd6 { kernel table %[4]d; learn; ipv6 { table vips6; import where krt_source = 200; export none; }; }
protocol bgp up4 {
	local as 64512; neighbor %[1]s as 64500;
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
	ipv4 { table vips4; import none; export filter { bgp_med = krt_metric; accept; }; next hop self; };
}
protocol bgp up6 {
	local as 64512; neighbor %[2]s as 64500;
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
	ipv6 { table vips6; import none; export filter { bgp_med = krt_metric; accept; }; next hop self; };
}
`, router[0], router[1], id, table)
}
