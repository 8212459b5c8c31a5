package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/vrrp"
)

// TestKubeadmBootstrap brings up an HA control plane as kubeadm's guide
// does, on vipd with configs/control-plane.toml as shipped (only the CA's
// path differs per node): vipd starts on three nodes before any
// certificate or API server exists; "kubeadm init" on cp-1 writes the
// cluster CA and cp-1's serving certificate and starts its API server; a
// client elsewhere is then served through the VIP, verified against the
// CA, within cp-1's rise × interval and master down interval. cp-2 and cp-3
// join; cp-1's API server is killed and cp-2 serves within a second; the CA
// and every serving certificate are rotated and the checks recover, all
// without restarting vipd.
func TestKubeadmBootstrap(t *testing.T) {
	// Not parallel: it measures the bootstrap timeline.
	lab.Require(t)
	l := lab.New(t)
	var cps []*lab.Host
	for i := 1; i <= 3; i++ {
		cps = append(cps, l.AddHost(fmt.Sprintf("cp-%d", i), fmt.Sprintf("192.0.2.1%d/24", i)))
	}
	client := l.AddHost("client", "192.0.2.50/24")
	vip := netip.MustParseAddr(lab.LabEndpoint)

	// Each node's /etc/kubernetes/pki is its state directory's pki/.
	cfg := shippedConfig(t, "control-plane.toml", daemonTable,
		`ca_file = "/etc/kubernetes/pki/ca.crt"`, `ca_file = "@STATE@/pki/ca.crt"`)
	pkiDir := func(h *lab.Host) string { return filepath.Join(filepath.Dir(cfg), h.Name(), "state", "pki") }
	// Nobody is healthy: the checks say why, and one node keeps the VIP
	// as a last resort so that kubeadm init can reach its API server.
	// cp-3 boots first and is that node, the farthest from cp-1.
	procs := make([]*proc, len(cps))
	procs[2] = startVipd(t, cps[2], cfg)
	waitHolder(t, 10*time.Second, vip, "cp-3", cps...)
	procs[0] = startVipd(t, cps[0], cfg)
	procs[1] = startVipd(t, cps[1], cfg)
	for _, p := range procs {
		waitStatus(t, p, p.host.Name()+"'s check fails for its missing CA", func(st control.Status) bool {
			c, ok := check(st, "apiserver")
			return ok && c.State == control.CheckUnhealthy && strings.Contains(c.LastError, "ca_file "+pkiDir(p.host)+"/ca.crt: not present yet")
		})
	}
	stable(t, 500*time.Millisecond, vip, "cp-3", cps...)
	logStatus(t, procs[0], "before kubeadm init", "kube-apiserver")

	// kubeadm init on cp-1: certificates first, the API server once its
	// static pod runs.
	pki := lab.NewKubeadmPKI(t, vip)
	certs := make([]*lab.ServingCert, len(cps))
	for i, h := range cps {
		certs[i] = pki.ServingCert(t, h.Name(), netip.MustParseAddr(fmt.Sprintf("192.0.2.1%d", i+1)))
	}
	pki.WriteFiles(t, pkiDir(cps[0]), certs[0])
	waitStatus(t, procs[0], "cp-1's check reaches for an API server", func(st control.Status) bool {
		c, ok := check(st, "apiserver")
		return ok && strings.Contains(c.LastError, "connection refused")
	})
	apis := make([]*lab.APIServer, len(cps))
	starved := l.Starvation(true) // the client's requests stamp the times
	apis[0] = lab.ServeAPIServer(t, cps[0], certs[0])
	ready := time.Now()
	served, by := waitServed(t, client, vip, pki, 10*time.Second)
	took := served.Sub(ready)
	// cp-1's rise × interval, and its master down interval, the bound of
	// the RFC's way for a healthy backup to take over from a last-resort
	// master. vipd takes the skew time instead of the master down
	// interval, after the last-resort master's next advert.
	bound := 2*200*time.Millisecond + vrrp.MasterDownInterval(3, 250, time.Second) + starved.Since()
	t.Logf("kubeadm init: API server ready on cp-1 → client served through the VIP by %s in %v (bound %v, with the time the daemons and the client waited for a CPU)", by, took.Round(time.Millisecond), bound)
	if by != "cp-1" || took > bound {
		t.Errorf("after cp-1's API server became ready, the client was served by %s after %v, want cp-1 within %v", by, took, bound)
	}
	waitHolder(t, 5*time.Second, vip, "cp-1", cps...)
	logStatus(t, procs[0], "after kubeadm init")

	// kubeadm join --control-plane on cp-2 and cp-3.
	for i := 1; i < 3; i++ {
		pki.WriteFiles(t, pkiDir(cps[i]), certs[i])
		apis[i] = lab.ServeAPIServer(t, cps[i], certs[i])
	}
	for _, p := range procs[1:] {
		waitStatus(t, p, p.host.Name()+" is a healthy backup", func(st control.Status) bool {
			in, ok := instance(st, "kube-apiserver", control.FamilyIPv4)
			return ok && in.State == control.StateBackup && len(in.FailingChecks) == 0
		})
	}
	logStatus(t, procs[1], "after the joins")

	// cp-1's API server dies: cp-2 serves within a second.
	starved = l.Starvation(true)
	apis[0].Stop()
	killed := time.Now()
	served, by = waitServed(t, client, vip, pki, 5*time.Second)
	t.Logf("cp-1's API server killed → client served through the VIP by %s in %v", by, served.Sub(killed).Round(time.Millisecond))
	if waited := starved.Since(); by != "cp-2" || served.Sub(killed) > time.Second+waited {
		t.Errorf("after cp-1's API server died, the client was served by %s after %v, want cp-2 within 1s (+%v the daemons and the client waited for a CPU)", by, served.Sub(killed), waited)
	}
	waitHolder(t, 5*time.Second, vip, "cp-2", cps...)

	// A new CA and new serving certificates on every node, as a CA
	// rotation ends: the checks follow without a restart.
	pki2 := lab.NewKubeadmPKI(t, vip)
	rotated := time.Now()
	for i, h := range cps {
		c := pki2.ServingCert(t, h.Name(), netip.MustParseAddr(fmt.Sprintf("192.0.2.1%d", i+1)))
		pki2.WriteFiles(t, pkiDir(h), c)
		if apis[i] != nil && i > 0 {
			apis[i].SetCert(c)
		}
	}
	for _, p := range procs[1:] {
		waitStatus(t, p, p.host.Name()+"'s check passes with the new CA", func(st control.Status) bool {
			c, ok := check(st, "apiserver")
			return ok && c.State == control.CheckHealthy && c.LastProbe.After(rotated) && c.LastError == ""
		})
	}
	t.Logf("CA and certificates rotated → every check healthy again in %v", time.Since(rotated).Round(time.Millisecond))
	if _, by = waitServed(t, client, vip, pki2, 5*time.Second); by != "cp-2" {
		t.Errorf("after the rotation the client was served by %s, want cp-2", by)
	}
	for _, p := range procs {
		select {
		case err := <-p.done:
			t.Fatalf("vipd on %s exited: %v", p.host.Name(), err)
		default:
		}
	}
}

// waitServed polls https://vip:6443/readyz from client, verifying the
// server against pki's CA, until it answers 200; it returns when, and the
// node that served (the name in its certificate).
func waitServed(t testing.TB, client *lab.Host, vip netip.Addr, pki *lab.KubeadmPKI, timeout time.Duration) (time.Time, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA)
	// Dialled inside the client's namespace; each poll a new connection,
	// as a new client would.
	dial := func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = client.Do(func() error {
			c, err = (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	hc := &http.Client{
		Timeout: 500 * time.Millisecond,
		Transport: &http.Transport{
			DialContext:       dial,
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: roots},
		},
	}
	url := fmt.Sprintf("https://%s:%d/readyz", vip, lab.APIServerPort)
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := hc.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		at := time.Now()
		if resp.StatusCode != http.StatusOK {
			last = resp.Status
			continue
		}
		names := resp.TLS.PeerCertificates[0].DNSNames
		for _, n := range names {
			if strings.HasPrefix(n, "cp-") {
				return at, n
			}
		}
		t.Fatalf("GET %s: served by a certificate for %v, which names no node", url, names)
	}
	t.Fatalf("GET %s from %s: no 200 within %v; last: %s", url, client.Name(), timeout, last)
	return time.Time{}, ""
}

// check returns the check of that name in st.
func check(st control.Status, name string) (control.Check, bool) {
	i := slices.IndexFunc(st.Checks, func(c control.Check) bool { return c.Name == name })
	if i < 0 {
		return control.Check{}, false
	}
	return st.Checks[i], true
}

// logStatus logs what vipctl status shows on p's node (of one instance,
// in detail, if named).
func logStatus(t testing.TB, p *proc, when string, name ...string) {
	t.Helper()
	out, err := p.vipctl(append([]string{"status"}, name...)...)
	if err != nil {
		t.Fatalf("vipctl status on %s: %v\n%s", p.host.Name(), err, out)
	}
	t.Logf("vipctl status on %s, %s:\n%s", p.host.Name(), when, out)
}
