package lab_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/lab"
)

func TestKubeadmPKI(t *testing.T) {
	t.Parallel()
	vip := netip.MustParseAddr("192.0.2.100")
	pki := lab.NewKubeadmPKI(t, vip)
	cert := pki.ServingCert(t, "cp-1", netip.MustParseAddr("192.0.2.11"))
	leaf, err := x509.ParseCertificate(cert.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	got := []string{"CN " + leaf.Subject.CommonName, "issuer " + leaf.Issuer.CommonName}
	got = append(got, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		got = append(got, ip.String())
	}
	want := []string{
		"CN kube-apiserver", "issuer kubernetes",
		"cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		"198.51.100.1", "192.0.2.11", "192.0.2.100",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("serving certificate (-want +got)\n%s", diff)
	}

	roots := x509.NewCertPool()
	roots.AddCert(pki.CA)
	rotated := lab.NewKubeadmPKI(t, vip)
	newRoots := x509.NewCertPool()
	newRoots.AddCert(rotated.CA)
	tests := []struct {
		name  string
		roots *x509.CertPool
		want  error // nil, x509.HostnameError{} or x509.UnknownAuthorityError{}
	}{
		{"kubernetes", roots, nil},
		{"kubernetes.default.svc.cluster.local", roots, nil},
		{"cp-1", roots, nil},
		{"192.0.2.100", roots, nil},
		{"192.0.2.11", roots, nil},
		{"198.51.100.1", roots, nil},
		{"127.0.0.1", roots, x509.HostnameError{}},
		{"localhost", roots, x509.HostnameError{}},
		{"kubernetes", newRoots, x509.UnknownAuthorityError{}},
	}
	for _, tt := range tests {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: tt.name, Roots: tt.roots})
		if got, want := fmt.Sprintf("%T", err), fmt.Sprintf("%T", tt.want); got != want {
			t.Errorf("verify for %s: %v, want an error of type %s", tt.name, err, want)
		}
	}

	dir := filepath.Join(t.TempDir(), "pki")
	pki.WriteFiles(t, dir, cert)
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil || !bytes.Equal(ca, pki.CAPEM()) {
		t.Fatalf("ca.crt: %v, want the CA", err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key"))
	if err != nil || !bytes.Equal(pair.Certificate[0], leaf.Raw) {
		t.Fatalf("apiserver.crt and apiserver.key: %v, want the serving certificate", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "apiserver.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("apiserver.key: %v, want mode 0600", err)
	}
	// A rotation replaces the files.
	rotated.WriteFiles(t, dir, nil)
	if ca, err := os.ReadFile(filepath.Join(dir, "ca.crt")); err != nil || !bytes.Equal(ca, rotated.CAPEM()) {
		t.Fatalf("ca.crt after the rotation: %v, want the new CA", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 3 {
		t.Fatalf("%s holds %v (%v), want ca.crt, apiserver.crt and apiserver.key", dir, entries, err)
	}
}

func TestAPIServer(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	h1 := l.AddHost("cp-1", "192.0.2.11/24")
	h2 := l.AddHost("cp-2", "192.0.2.12/24")
	api1, api2 := lab.StartAPIServer(t, h1), lab.StartAPIServer(t, h2)
	ca, err := os.ReadFile(api1.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if ca2, err := os.ReadFile(api2.CAFile); err != nil || !bytes.Equal(ca, ca2) {
		t.Fatalf("the API servers of a lab do not share their CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)

	// The certificate does not name 127.0.0.1; it names kubernetes.
	if _, err := readyz(h1, "127.0.0.1", &tls.Config{RootCAs: roots}); !errors.As(err, new(x509.HostnameError)) {
		t.Fatalf("GET /readyz as 127.0.0.1: %v, want a name mismatch", err)
	}
	kubernetes := &tls.Config{RootCAs: roots, ServerName: "kubernetes"}
	if got, err := readyz(h1, "127.0.0.1", kubernetes); err != nil || got != "200 ok" {
		t.Fatalf("GET /readyz as kubernetes: %q, %v", got, err)
	}
	// As kube-apiserver, it listens on the node's address too.
	if got, err := readyz(h2, "192.0.2.11", &tls.Config{RootCAs: roots, ServerName: "192.0.2.11"}); err != nil || got != "200 ok" {
		t.Fatalf("GET /readyz of cp-1 from cp-2: %q, %v", got, err)
	}
	api1.Down.Store(true)
	if got, err := readyz(h1, "127.0.0.1", kubernetes); err != nil || got != "503 not ready" {
		t.Fatalf("GET /readyz while down: %q, %v", got, err)
	}
	api1.Down.Store(false)

	// A rotation: the next handshake presents the new certificate,
	// which only the new CA verifies.
	rotated := lab.NewKubeadmPKI(t, netip.MustParseAddr(lab.LabEndpoint))
	api1.SetCert(rotated.ServingCert(t, "cp-1", netip.MustParseAddr("192.0.2.11")))
	if _, err := readyz(h1, "127.0.0.1", kubernetes); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Fatalf("GET /readyz with the old CA: %v, want an unknown authority", err)
	}
	newRoots := x509.NewCertPool()
	newRoots.AddCert(rotated.CA)
	if got, err := readyz(h1, "127.0.0.1", &tls.Config{RootCAs: newRoots, ServerName: "kubernetes"}); err != nil || got != "200 ok" {
		t.Fatalf("GET /readyz with the new CA: %q, %v", got, err)
	}
}

// readyz GETs /readyz of the API server at addr from host h and returns
// the status code and body.
func readyz(h *lab.Host, addr string, cfg *tls.Config) (string, error) {
	var got string
	err := h.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(&d, "tcp", net.JoinHostPort(addr, "6443"), cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, "GET /readyz HTTP/1.1\r\nHost: kubernetes\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		return err
	})
	return got, err
}
