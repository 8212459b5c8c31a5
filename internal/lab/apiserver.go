package lab

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// APIServerPort is where an APIServer listens, on every address of its
// host, as kube-apiserver does.
const APIServerPort = 6443

// LabEndpoint is the control-plane endpoint (the VIP) that the certificates
// of the lab's own PKI name (see Lab.KubeadmPKI).
const LabEndpoint = "192.0.2.100"

// An APIServer is a fake kube-apiserver: HTTPS on port 6443 of every
// address of a lab host, 127.0.0.1 included, answering /readyz, /livez and
// /healthz with 200 while up and 503 while Down, and any other path with
// 403, as kube-apiserver answers anonymous requests. Its serving
// certificate can be replaced while it runs (SetCert), as kube-apiserver
// reloads its files.
type APIServer struct {
	// Down makes /readyz, /livez and /healthz fail while true.
	Down atomic.Bool
	// CAFile is the CA that verifies the server, for a check's ca_file;
	// StartAPIServer writes it, ServeAPIServer leaves it empty.
	CAFile string

	cert atomic.Pointer[tls.Certificate]
	srv  *http.Server
}

// StartAPIServer starts an APIServer in host h with a certificate issued
// for h by the lab's PKI (Lab.KubeadmPKI), shared by the API servers of
// every host of the lab, and writes that PKI's CA to CAFile. It stops at
// cleanup. A check verifies it with server_name = "kubernetes": the
// certificate does not name 127.0.0.1.
func StartAPIServer(t testing.TB, h *Host) *APIServer {
	t.Helper()
	pki := h.lab.KubeadmPKI()
	a := ServeAPIServer(t, h, pki.ServingCert(t, h.name, h.advertiseAddr(t)))
	a.CAFile = filepath.Join(t.TempDir(), "ca.crt")
	pki.WriteCA(t, a.CAFile)
	return a
}

// ServeAPIServer starts an APIServer in host h presenting cert, and writes
// no file: the test writes the CA where its checks read it (see
// KubeadmPKI.WriteFiles), before or after. It stops at cleanup.
func ServeAPIServer(t testing.TB, h *Host, cert *ServingCert) *APIServer {
	t.Helper()
	a := &APIServer{}
	a.SetCert(cert)
	// Listening inside the host's namespace, the server is on the
	// loopback of the daemons running there, and on its VIPs.
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(APIServerPort))
		return err
	}); err != nil {
		t.Fatalf("lab: listen in %s: %v", h.Name(), err)
	}
	a.srv = &http.Server{
		Handler:           http.HandlerFunc(a.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Probes cut short by their timeout are the checks' business,
		// not the server's: no log of aborted handshakes.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Read at each handshake: SetCert takes effect for the next
		// connection.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return a.cert.Load(), nil },
	}
	go a.srv.Serve(tls.NewListener(ln, tlsCfg))
	t.Cleanup(func() { a.srv.Close() })
	return a
}

// Stop stops the server as a killed kube-apiserver stops: its listener and
// connections close, and new connections are refused.
func (a *APIServer) Stop() { a.srv.Close() }

// SetCert makes the server present cert from the next TLS handshake on.
func (a *APIServer) SetCert(cert *ServingCert) {
	c := cert.TLS
	a.cert.Store(&c)
}

func (a *APIServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz", "/livez", "/healthz":
	default:
		// What kube-apiserver tells an anonymous request for any other
		// path, "/" included.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{
			"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
			"message": fmt.Sprintf("forbidden: User \"system:anonymous\" cannot get path %q", r.URL.Path),
			"reason":  "Forbidden", "details": map[string]any{}, "code": http.StatusForbidden,
		})
		return
	}
	if a.Down.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok"))
}

// KubeadmPKI returns the lab's cluster CA, made at the first call, whose
// certificates name LabEndpoint as the control-plane endpoint.
func (l *Lab) KubeadmPKI() *KubeadmPKI {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pki == nil {
		l.pki = NewKubeadmPKI(l.t, netip.MustParseAddr(LabEndpoint))
	}
	return l.pki
}

// advertiseAddr returns the address kubeadm would advertise for h: the
// first global unicast address of its eth0, IPv4 before IPv6.
func (h *Host) advertiseAddr(t testing.TB) netip.Addr {
	t.Helper()
	var v6 netip.Addr
	for _, p := range h.Addrs(t, "eth0") {
		a := p.Addr()
		switch {
		case !a.IsGlobalUnicast():
		case a.Is4():
			return a
		case !v6.IsValid():
			v6 = a
		}
	}
	if !v6.IsValid() {
		t.Fatalf("lab: host %s has no address to advertise", h.name)
	}
	return v6
}
