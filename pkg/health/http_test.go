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

// issue signs a certificate for 127.0.0.1 with the given usage and returns
// it as a tls.Certificate and as PEM files.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (tls.Certificate, string, string) {
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
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
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

// tlsServer starts an HTTPS server for 127.0.0.1 with a certificate of ca,
// counting the connections it accepts.
func tlsServer(t *testing.T, ca *testCA, h http.Handler, conns *atomic.Int32, configure func(*tls.Config)) *httptest.Server {
	t.Helper()
	cert, _, _ := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
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

func TestNewHTTPSFileErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	_, certFile, keyFile := ca.issue(t, "vipd", x509.ExtKeyUsageClientAuth)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	base := Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1:6443/readyz", CAFile: ca.file}
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"missing CA", func(s *Spec) { s.CAFile = missing }, `health: check "api": ca_file: open ` + missing + ": no such file or directory"},
		{"CA not PEM", func(s *Spec) { s.CAFile = notPEM }, `health: check "api": ca_file ` + notPEM + ": no PEM certificate found"},
		{"missing key", func(s *Spec) { s.CertFile, s.KeyFile = certFile, missing }, "client certificate " + certFile + ", key " + missing + ": open " + missing},
		{"key does not match", func(s *Spec) { s.CertFile, s.KeyFile = certFile, notPEM }, "client certificate " + certFile + ", key " + notPEM},
		{"good", func(s *Spec) { s.CertFile, s.KeyFile = certFile, keyFile }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.mod(&s)
			_, err := New(s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New: %v, want an error containing %q", err, tt.want)
			}
		})
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
