package lab

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// An APIServer is a fake kube-apiserver: HTTPS on 127.0.0.1:6443 inside a
// lab host, answering /readyz with 200 while up and 503 while Down.
type APIServer struct {
	// Down makes /readyz fail while true.
	Down atomic.Bool
	// CAFile is the server's certificate as a CA file, for a check's
	// ca_file.
	CAFile string

	srv *httptest.Server
}

// StartAPIServer starts an APIServer in host h; it stops at cleanup.
func StartAPIServer(t testing.TB, h *Host) *APIServer {
	t.Helper()
	a := &APIServer{}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || a.Down.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	// Listening inside the host's namespace, the server is on the
	// loopback of the daemons running there.
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:6443")
		return err
	}); err != nil {
		t.Fatalf("lab: listen in %s: %v", h.Name(), err)
	}
	a.srv.Listener.Close()
	a.srv.Listener = ln
	// Probes cut short by their timeout are the checks' business, not
	// the server's: no log of aborted handshakes.
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	a.CAFile = filepath.Join(t.TempDir(), "ca.crt")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	if err := os.WriteFile(a.CAFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}
