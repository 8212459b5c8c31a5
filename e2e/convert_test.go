package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/kaconf"
)

// keepalived.conf files of real fleets (pkg/kaconf/testdata/corpus),
// adapted to the lab's addresses: keepalived runs with the file of one
// node, vipd with what the converter makes of another's, in one virtual
// router, and both must agree on the master, the VIPs and the failover.
// What the converter refuses is checked to be refused.

// convertSet converts the keepalived.conf files of a virtual router's
// nodes together, as vipctl convert-keepalived -o does, fails the test
// unless every verdict is safe and the set raises no note, and returns
// each node's vipd configuration (with the lab's [daemon] table) by the
// name of its file.
func convertSet(t testing.TB, confs map[string]string) map[string]string {
	t.Helper()
	return convertSetUnsafe(t, confs, "")
}

// convertSetUnsafe is convertSet for files whose verdicts are not safe
// for the reason unsafe alone ("" for none).
func convertSetUnsafe(t testing.TB, confs map[string]string, unsafe string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for name, conf := range confs {
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	slices.Sort(files)
	res, err := kaconf.Convert(files)
	for _, n := range res.Notes {
		t.Logf("convert note: %v", n)
	}
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	for _, v := range res.Verdicts {
		for _, r := range v.Reasons {
			if unsafe == "" || !strings.Contains(r.Msg, unsafe) {
				t.Fatalf("verdict: %v", v)
			}
		}
		if unsafe != "" && (v.Safe || !v.Converted) {
			t.Fatalf("verdict: %v, want converted and not safe for %q", v, unsafe)
		}
	}
	for _, n := range res.Notes {
		if setNote.MatchString(n.Msg) {
			t.Fatalf("the files disagree: %v", n)
		}
	}
	out := make(map[string]string)
	for _, nd := range res.Nodes {
		name := strings.TrimSuffix(filepath.Base(nd.Source), ".conf")
		out[name] = writeConfig(t, daemonTable+"\n"+string(nd.TOML))
	}
	return out
}

// setNote matches the notes of the converter's comparison of the files.
var setNote = regexp.MustCompile(`differs? from|does not list|sends adverts by|in this file only`)

// kaStateOf returns the state keepalived last logged entering for
// instance, "" if none.
func kaStateOf(k *keepalived, instance string) string {
	re := regexp.MustCompile(`\(` + regexp.QuoteMeta(instance) + `\) Entering (MASTER|BACKUP|FAULT) STATE`)
	m := re.FindAllStringSubmatch(k.log.String(), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// bothWays runs f in two subtests: keepalived on the first node, the
// master, and vipd with the conversion on the other; then the other way
// round.
func bothWays(t *testing.T, f func(t *testing.T, kaIsMaster bool)) {
	for _, kaIsMaster := range []bool{true, false} {
		name := "keepalived master, vipd backup"
		if !kaIsMaster {
			name = "vipd master, keepalived backup"
		}
		t.Run(name, func(t *testing.T) { f(t, kaIsMaster) })
	}
}

// waitUntil polls cond until it holds, and fails the test after timeout
// with what it waited for and the last reason cond gave.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mixedRouter is a virtual router of one keepalived node and one vipd
// node, each with its own keepalived.conf.
type mixedRouter struct {
	instance string // the vrrp_instance's name
	vips     []netip.Addr
	ka, vd   node
	k        *keepalived
	p        *proc
}

// start runs keepalived with its file on a (when kaOnA) or b, and vipd
// with the conversion on the other; files are keyed by host name.
func (r *mixedRouter) start(t testing.TB, kaOnA bool, a, b node, confs, cfg map[string]string, startKA func(testing.TB, node, string) *keepalived) {
	t.Helper()
	r.ka, r.vd = b, a
	if kaOnA {
		r.ka, r.vd = a, b
	}
	r.k = startKA(t, r.ka, confs[r.ka.host.Name()])
	r.p = startVipd(t, r.vd.host, cfg[r.vd.host.Name()])
}

// holding waits until the VIPs are on want's host only, keepalived is in
// the state it should be, and vipd is too, following want's address as
// the master.
func (r *mixedRouter) holding(t testing.TB, timeout time.Duration, want node) {
	t.Helper()
	hosts := []*lab.Host{r.ka.host, r.vd.host}
	waitUntil(t, timeout, fmt.Sprintf("VIPs %v on %s only, both daemons agreeing", r.vips, want.host.Name()), func() (bool, string) {
		for _, vip := range r.vips {
			if got := holders(t, vip, hosts...); len(got) != 1 || got[0] != want.host.Name() {
				return false, fmt.Sprintf("%v held by %v", vip, got)
			}
		}
		kaWant, vdWant := "BACKUP", "MASTER"
		if want == r.ka {
			kaWant, vdWant = "MASTER", "BACKUP"
		}
		if got := kaStateOf(r.k, r.instance); got != kaWant {
			return false, fmt.Sprintf("keepalived on %s is %q", r.ka.host.Name(), got)
		}
		in, err := r.p.instance()
		if err != nil {
			return false, err.Error()
		}
		if in.State != vdWant {
			return false, fmt.Sprintf("vipd on %s is %s", r.vd.host.Name(), in.State)
		}
		if vdWant == "BACKUP" && in.Master != want.ip4.String() {
			return false, fmt.Sprintf("vipd on %s follows %q", r.vd.host.Name(), in.Master)
		}
		return true, ""
	})
}

// healthy checks that neither side dropped an advert of the other.
func (r *mixedRouter) healthy(t testing.TB) {
	t.Helper()
	checkNoDrops(t, r.p)
	checkKeepalivedAccepted(t, r.k)
}

// strictConf is keepalived's default configuration file (corpus
// ka-default) on a lab node: strict mode, a password, three VIPs, state
// MASTER at priority 100; priority is what the node's file says.
func strictConf(routerID, priority string) string {
	return `global_defs {
   router_id ` + routerID + `
   vrrp_skip_check_adv_addr
   vrrp_strict
   vrrp_garp_interval 0
   vrrp_gna_interval 0
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority ` + priority + `
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.0.2.16
        192.0.2.17
        192.0.2.18
    }
}
`
}

// TestConvertStrictMode runs keepalived's default file, strict mode with
// a password, on one node and the conversion of the same file on another.
// keepalived ignores the password in strict mode and so must vipd, or each
// drops the other's adverts and both hold the VIPs. The vipd node's file
// says "priority False", as an Ansible role renders an unset variable:
// keepalived makes it 100, and so must the converter. keepalived's node
// (150) is master; it stops, vipd takes over; it starts again and takes
// the VIPs back.
func TestConvertStrictMode(t *testing.T) {
	requireKeepalived(t)
	l := lab.New(t)
	r := &mixedRouter{
		instance: "VI_1",
		vips:     []netip.Addr{netip.MustParseAddr("192.0.2.16"), netip.MustParseAddr("192.0.2.17"), netip.MustParseAddr("192.0.2.18")},
		ka:       addNode(t, l, "ka", 11),
		vd:       addNode(t, l, "vd", 12),
	}
	cfg := convertSet(t, map[string]string{"ka": strictConf("ka", "150"), "vd": strictConf("vd", "False")})
	if text, err := os.ReadFile(cfg["vd"]); err != nil || !strings.Contains(string(text), "priority = 100\n") || strings.Contains(string(text), "auth_password") {
		t.Fatalf("vd's conversion (%v):\n%s\nwant priority 100 and no auth_password", err, text)
	}

	r.k = startKeepalived(t, r.ka, strictConf("ka", "150"))
	r.p = startVipd(t, r.vd.host, cfg["vd"])
	const v2 = 12 * time.Second // a VRRPv2 master down interval and then some
	r.holding(t, v2, r.ka)
	r.healthy(t)

	if err := r.k.stop(); err != nil {
		t.Logf("keepalived exited with %v", err)
	}
	waitUntil(t, v2, "vipd taking over", func() (bool, string) {
		in, err := r.p.instance()
		if err != nil {
			return false, err.Error()
		}
		return in.State == "MASTER" && len(holders(t, r.vips[0], r.vd.host)) == 1, "vipd is " + in.State
	})

	r.k = startKeepalived(t, r.ka, strictConf("ka", "150"))
	r.holding(t, v2, r.ka)
	r.healthy(t)
}

// unicastConf is kubeasz's external load balancer (corpus kubeasz) on a
// lab node, in VRRPv3 at 100 ms so that the lab's failovers are quick:
// unicast adverts from src to peer, dont_track_primary, and a script
// whose failure lowers the priority by 60. The script passes while flag
// does not exist.
func unicastConf(routerID, state, priority string, src, peer node, flag string) string {
	return `global_defs {
    router_id ` + routerID + `
    script_user root
    vrrp_version 3
}

vrrp_script check-haproxy {
    script "/usr/bin/test ! -e ` + flag + `"
    interval 1
    weight -60
}

vrrp_instance VI-kube-master {
    state ` + state + `
    priority ` + priority + `
    unicast_src_ip ` + src.ip4.String() + `
    unicast_peer {
        ` + peer.ip4.String() + `
    }
    dont_track_primary
    interface eth0
    virtual_router_id 222
    advert_int 0.1
    track_script {
        check-haproxy
    }
    virtual_ipaddress {
        192.0.2.250
    }
}
`
}

// TestConvertUnicast runs the master's and the backup's files of a kubeasz
// load balancer pair, keepalived on one node and the conversion on the
// other, both ways round. The master holds the VIP; its check fails and
// the VIP moves to the backup (120 - 60 < 100); the check passes again and
// the master takes it back.
func TestConvertUnicast(t *testing.T) {
	requireKeepalived(t)
	bothWays(t, func(t *testing.T, kaIsMaster bool) {
		l := lab.New(t)
		a, b := addNode(t, l, "lb-a", 11), addNode(t, l, "lb-b", 12)
		flags := t.TempDir()
		flagA := filepath.Join(flags, "a-haproxy-down")
		confs := map[string]string{
			"lb-a": unicastConf("lb-a", "MASTER", "120", a, b, flagA),
			"lb-b": unicastConf("lb-b", "BACKUP", "100", b, a, filepath.Join(flags, "b-haproxy-down")),
		}
		cfg := convertSet(t, confs)
		r := &mixedRouter{instance: "VI-kube-master", vips: []netip.Addr{netip.MustParseAddr("192.0.2.250")}}
		r.start(t, kaIsMaster, a, b, confs, cfg, startKeepalived)
		const timeout = 8 * time.Second // a script interval, fall, a master down interval, start-up
		r.holding(t, timeout, a)
		r.healthy(t)

		if err := os.WriteFile(flagA, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r.holding(t, timeout, b)
		if err := os.Remove(flagA); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		r.holding(t, timeout, a)
		r.healthy(t)
	})
}

// TestConvertRefuses converts what vipd cannot yet run as keepalived does,
// with a case keepalived itself does not start with: unicast peers in
// strict mode. It is refused, never converted. (Corpus kolla, a VIP on a
// second interface, is converted: TestConvertVIPOnSecondNIC.)
func TestConvertRefuses(t *testing.T) {
	t.Run("strict mode with unicast peers", func(t *testing.T) {
		dir := t.TempDir()
		a := node{ip4: netip.MustParseAddr("192.0.2.11")}
		b := node{ip4: netip.MustParseAddr("192.0.2.12")}
		conf := strings.Replace(unicastConf("lb-a", "MASTER", "120", a, b, filepath.Join(dir, "flag")), "vrrp_version 3\n", "vrrp_version 3\n    vrrp_strict\n", 1)
		path := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := kaconf.Convert([]string{path})
		if !errors.Is(err, kaconf.ErrRefused) || !strings.Contains(err.Error(), "Unicast peers are not supported in strict mode") {
			t.Errorf("convert: %v, want a refusal for unicast peers in strict mode", err)
		}
	})
}

// checkNoDropsAll is checkNoDrops for vipd running several instances.
func checkNoDropsAll(t testing.TB, p *proc) {
	t.Helper()
	out, err := p.vipctl("status", "-o", "json")
	if err != nil {
		t.Fatalf("vipctl status: %v\n%s", err, out)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("vipctl status -o json: %v\n%s", err, out)
	}
	for _, in := range st.Instances {
		for reason, n := range in.Counters.Dropped {
			if n != 0 && reason != "own" && reason != "backlog" {
				t.Errorf("vipd on %s, instance %s: dropped %d adverts for %q", p.host.Name(), in.Name, n, reason)
			}
		}
	}
}
