package health

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/procgroup"
)

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name+".crt")
	writePEM(t, file, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, file: file}
}

// issue signs a certificate with the given usage for the names in sans
// (IP addresses or DNS names; none means 127.0.0.1) and returns it as a
// tls.Certificate and as PEM files.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, sans ...string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if len(sans) == 0 {
		sans = []string{"127.0.0.1"}
	}
	for _, n := range sans {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsServer starts an HTTPS server for 127.0.0.1 with a certificate of ca
// (or none: configure then gives one), counting the connections it
// accepts.
func tlsServer(t *testing.T, ca *testCA, h http.Handler, conns *atomic.Int32, configure func(*tls.Config)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{}
	if ca != nil {
		cert, _, _ := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
		srv.TLS.Certificates = []tls.Certificate{cert}
	}
	if configure != nil {
		configure(srv.TLS)
	}
	if conns != nil {
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	}
	// The server's own logger would report the handshakes the tests
	// make fail on purpose.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// probeOnce runs one probe with a timeout and says how long it took.
func probeOnce(t *testing.T, c Checker, timeout time.Duration) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	out, err := c.Check(ctx)
	return out, time.Since(start), err
}

func mustNew(t *testing.T, s Spec) Checker {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestHTTPS(t *testing.T) {
	ca := newTestCA(t, "ca")
	other := newTestCA(t, "other")
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "[-]etcd failed: reason withheld", http.StatusInternalServerError)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/readyz", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("x", 3*MaxOutput))) })
	srv := tlsServer(t, ca, mux, nil, nil)

	spec := func(path, caFile string) Spec {
		return Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + path, CAFile: caFile}
	}
	tests := []struct {
		name    string
		spec    Spec
		out     string
		wantErr string // substring; empty means success
	}{
		{name: "ok", spec: spec("/readyz", ca.file), out: "ok"},
		{
			name:    "wrong CA",
			spec:    spec("/readyz", other.file),
			wantErr: "GET " + srv.URL + "/readyz: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{name: "system roots do not know the test CA", spec: spec("/readyz", ""), wantErr: "certificate signed by unknown authority"},
		{
			name: "insecure skips verification",
			spec: Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/readyz", InsecureSkipVerify: true},
			out:  "ok",
		},
		{
			name:    "status 500",
			spec:    spec("/broken", ca.file),
			out:     "[-]etcd failed: reason withheld\n",
			wantErr: "GET " + srv.URL + "/broken: status 500, want [200]: [-]etcd failed: reason withheld",
		},
		{
			name: "expected status",
			spec: Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/broken", CAFile: ca.file, ExpectStatus: []int{200, 500}},
			out:  "[-]etcd failed: reason withheld\n",
		},
		{
			name:    "redirect is not followed",
			spec:    spec("/moved", ca.file),
			out:     `<a href="/readyz">Found</a>.` + "\n\n",
			wantErr: "status 302, want [200]",
		},
		{name: "body is capped", spec: spec("/big", ca.file), out: strings.Repeat("x", MaxOutput) + procgroup.TruncatedMarker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := probeOnce(t, mustNew(t, tt.spec), 5*time.Second)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Check: error %v, want one containing %q", err, tt.wantErr)
			}
			if out != tt.out {
				t.Errorf("output %q, want %q", out, tt.out)
			}
		})
	}
}

func TestHTTPHangingServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before Close, which waits for handlers

	const timeout = 150 * time.Millisecond
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTP, URL: srv.URL})
	_, took, err := probeOnce(t, c, timeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check: %v, want a deadline error", err)
	}
	if took > timeout+time.Second {
		t.Fatalf("Check returned after %v with a timeout of %v", took, timeout)
	}
}

func TestHTTPHangingBody(t *testing.T) {
	// Headers arrive at once, the body never ends: the deadline covers
	// reading it.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	const timeout = 150 * time.Millisecond
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTP, URL: srv.URL})
	out, took, err := probeOnce(t, c, timeout)
	if err == nil || !strings.Contains(err.Error(), "status 200, reading body") {
		t.Fatalf("Check: %v, want an error reading the body", err)
	}
	if out != "partial" {
		t.Errorf("output %q, want what arrived", out)
	}
	if took > timeout+time.Second {
		t.Fatalf("Check returned after %v with a timeout of %v", took, timeout)
	}
}

func TestHTTPNewConnectionPerProbe(t *testing.T) {
	ca := newTestCA(t, "ca")
	var conns atomic.Int32
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), &conns, nil)
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL, CAFile: ca.file})
	const n = 5
	for i := range n {
		if _, _, err := probeOnce(t, c, 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if got := conns.Load(); got != n {
		t.Fatalf("%d probes used %d connections, want one each", n, got)
	}
}

func TestHTTPSClientCertificate(t *testing.T) {
	ca := newTestCA(t, "ca")
	_, certFile, keyFile := ca.issue(t, "vipd", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello " + r.TLS.PeerCertificates[0].Subject.CommonName))
	}), nil, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
	})

	with := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL, CAFile: ca.file, CertFile: certFile, KeyFile: keyFile})
	if out, _, err := probeOnce(t, with, 5*time.Second); err != nil || out != "hello vipd" {
		t.Fatalf("with a client certificate: %q, %v", out, err)
	}
	without := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL, CAFile: ca.file})
	if _, _, err := probeOnce(t, without, 5*time.Second); err == nil {
		t.Fatal("without a client certificate: success")
	}
}

func TestHTTPSFileProblems(t *testing.T) {
	// New reads no file; the probes do, and fail saying which file is
	// wrong. FileWarnings finds the same problems.
	ca := newTestCA(t, "ca")
	_, certFile, keyFile := ca.issue(t, "vipd", x509.ExtKeyUsageClientAuth)
	_, otherCert, _ := ca.issue(t, "other", x509.ExtKeyUsageClientAuth)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil, nil)
	base := Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL, CAFile: ca.file}
	tests := []struct {
		name string
		mod  func(*Spec)
		want []string // FileWarnings, and the probe's error joined by "; "
	}{
		{"missing CA", func(s *Spec) { s.CAFile = missing }, []string{"ca_file " + missing + ": not present yet"}},
		{"CA not PEM", func(s *Spec) { s.CAFile = notPEM }, []string{"ca_file " + notPEM + ": no PEM certificate found"}},
		{"CA is a directory", func(s *Spec) { s.CAFile = dir }, []string{"ca_file " + dir + ": is a directory"}},
		{
			name: "missing key",
			mod:  func(s *Spec) { s.CertFile, s.KeyFile = certFile, missing },
			want: []string{"key_file " + missing + ": not present yet"},
		},
		{
			name: "key not PEM",
			mod:  func(s *Spec) { s.CertFile, s.KeyFile = certFile, notPEM },
			want: []string{"cert_file " + certFile + " / key_file " + notPEM + ": tls: failed to find any PEM data in key input"},
		},
		{
			name: "key of another certificate",
			mod:  func(s *Spec) { s.CertFile, s.KeyFile = otherCert, keyFile },
			want: []string{"cert_file " + otherCert + " / key_file " + keyFile + ": tls: private key does not match public key"},
		},
		{
			name: "everything missing",
			mod:  func(s *Spec) { s.CAFile, s.CertFile, s.KeyFile = missing, missing+".crt", missing+".key" },
			want: []string{
				"ca_file " + missing + ": not present yet",
				"cert_file " + missing + ".crt: not present yet",
				"key_file " + missing + ".key: not present yet",
			},
		},
		{"good", func(s *Spec) { s.CertFile, s.KeyFile = certFile, keyFile }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.mod(&s)
			if diff := cmp.Diff(tt.want, s.FileWarnings()); diff != "" {
				t.Errorf("FileWarnings (-want +got)\n%s", diff)
			}
			_, _, err := probeOnce(t, mustNew(t, s), 5*time.Second)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Check: %v", err)
			case tt.want != nil && (err == nil || err.Error() != strings.Join(tt.want, "; ")):
				t.Fatalf("Check: %v, want %q", err, strings.Join(tt.want, "; "))
			}
		})
	}
}

// kubeadmNames are the names kubeadm puts in the API server's certificate
// of node cp-1: never 127.0.0.1.
var kubeadmNames = []string{
	"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "cp-1",
	"198.51.100.1", "192.0.2.11", "192.0.2.100",
}

// swappableServer starts an HTTPS server on 127.0.0.1 answering "ok",
// whose certificate is *cert at each handshake.
func swappableServer(t *testing.T, cert *atomic.Pointer[tls.Certificate]) *httptest.Server {
	t.Helper()
	return tlsServer(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), nil, func(c *tls.Config) {
		// Not GetCertificate: httptest adds a certificate of its own,
		// which would serve clients that send no SNI.
		c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{*cert.Load()}}, nil
		}
	})
}

func TestHTTPSServerName(t *testing.T) {
	ca := newTestCA(t, "kubernetes")
	kubeadm, _, _ := ca.issue(t, "kube-apiserver", x509.ExtKeyUsageServerAuth, kubeadmNames...)
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(&kubeadm)
	srv := swappableServer(t, &cert)

	tests := []struct {
		name, serverName string
		wantErr          string // substring; empty means success
	}{
		{"the URL's host", "", "x509: certificate is valid for 198.51.100.1, 192.0.2.11, 192.0.2.100, not 127.0.0.1; set server_name to a name the certificate holds"},
		{"kubernetes", "kubernetes", ""},
		{"the node's name", "cp-1", ""},
		{"the VIP", "192.0.2.100", ""},
		{"a name it lacks", "etcd", "x509: certificate is valid for kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local, cp-1, not etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/readyz", CAFile: ca.file, ServerName: tt.serverName})
			out, _, err := probeOnce(t, c, 5*time.Second)
			switch {
			case tt.wantErr == "" && (err != nil || out != "ok"):
				t.Fatalf("Check: %q, %v", out, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Check: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHTTPSFilesLater(t *testing.T) {
	// vipd starts before kubeadm init: the CA is not there yet. The same
	// checker passes once it is.
	ca := newTestCA(t, "kubernetes")
	kubeadm, _, _ := ca.issue(t, "kube-apiserver", x509.ExtKeyUsageServerAuth, kubeadmNames...)
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(&kubeadm)
	srv := swappableServer(t, &cert)

	caFile := filepath.Join(t.TempDir(), "pki", "ca.crt")
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/readyz", CAFile: caFile, ServerName: "kubernetes"})
	want := "ca_file " + caFile + ": not present yet"
	for range 2 {
		if _, _, err := probeOnce(t, c, 5*time.Second); err == nil || err.Error() != want {
			t.Fatalf("before the CA: %v, want %q", err, want)
		}
	}
	if err := os.MkdirAll(filepath.Dir(caFile), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, ca.file, caFile)
	if out, _, err := probeOnce(t, c, 5*time.Second); err != nil || out != "ok" {
		t.Fatalf("after the CA: %q, %v", out, err)
	}
}

func TestHTTPSRotation(t *testing.T) {
	// kubeadm's CA and the API server's certificate are replaced; the
	// same checker passes again once both are, and says why it fails
	// while they do not match.
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	oldCA := newTestCA(t, "kubernetes")
	oldCert, _, _ := oldCA.issue(t, "kube-apiserver", x509.ExtKeyUsageServerAuth, kubeadmNames...)
	copyFile(t, oldCA.file, caFile)
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(&oldCert)
	srv := swappableServer(t, &cert)
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/readyz", CAFile: caFile, ServerName: "kubernetes"})
	if _, _, err := probeOnce(t, c, 5*time.Second); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	newCA := newTestCA(t, "kubernetes")
	newCert, _, _ := newCA.issue(t, "kube-apiserver", x509.ExtKeyUsageServerAuth, kubeadmNames...)
	cert.Store(&newCert)
	want := "x509: certificate signed by unknown authority"
	hint := "; the certificate's CA is not in ca_file " + caFile
	if _, _, err := probeOnce(t, c, 5*time.Second); err == nil || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), hint) {
		t.Fatalf("new certificate, old CA: %v, want %q ending in %q", err, want, hint)
	}
	copyFile(t, newCA.file, caFile)
	if out, _, err := probeOnce(t, c, 5*time.Second); err != nil || out != "ok" {
		t.Fatalf("new certificate, new CA: %q, %v", out, err)
	}
	// The old certificate no longer passes.
	cert.Store(&oldCert)
	if _, _, err := probeOnce(t, c, 5*time.Second); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("old certificate, new CA: %v, want %q", err, want)
	}
}

func TestHTTPSClientCertificateRenewal(t *testing.T) {
	// A renewed client certificate and key replace the files: the next
	// handshakes present the new one.
	ca := newTestCA(t, "ca")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}), nil, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
	})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	_, c1, k1 := ca.issue(t, "vipd-1", x509.ExtKeyUsageClientAuth)
	copyFile(t, c1, certFile)
	copyFile(t, k1, keyFile)
	c := mustNew(t, Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL, CAFile: ca.file, CertFile: certFile, KeyFile: keyFile})
	if out, _, err := probeOnce(t, c, 5*time.Second); err != nil || out != "vipd-1" {
		t.Fatalf("first certificate: %q, %v", out, err)
	}
	_, c2, k2 := ca.issue(t, "vipd-2", x509.ExtKeyUsageClientAuth)
	copyFile(t, c2, certFile)
	copyFile(t, k2, keyFile)
	if out, _, err := probeOnce(t, c, 5*time.Second); err != nil || out != "vipd-2" {
		t.Fatalf("renewed certificate: %q, %v", out, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	c := mustNew(t, Spec{Name: "lb", Type: TypeTCP, Address: ln.Addr().String()})
	if _, _, err := probeOnce(t, c, 5*time.Second); err != nil {
		t.Fatalf("open port: %v", err)
	}
	<-accepted

	// A port that was just free: listen, note it, close.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	c = mustNew(t, Spec{Name: "lb", Type: TypeTCP, Address: addr})
	_, _, err = probeOnce(t, c, 5*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "connect "+addr+": ") {
		t.Fatalf("closed port: %v, want a connect error", err)
	}
}
