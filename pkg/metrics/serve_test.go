package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// addrHandler is a slog.Handler that hands over the address Serve logs it
// listens on.
type addrHandler struct{ addr chan string }

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h addrHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrHandler) WithGroup(string) slog.Handler            { return h }

func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "serving metrics" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.addr <- a.Value.String()
		}
		return true
	})
	return nil
}

// serve runs Serve on addr until the test ends and returns the address it
// listens on and the channel Serve's result arrives on.
func serve(t *testing.T, ctx context.Context, addr string) (string, <-chan error) {
	t.Helper()
	reg := newRegistry(t, fullSource(), BuildInfo{Version: "v0.3.0"})
	h := addrHandler{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, reg, slog.New(h)) }()
	select {
	case a := <-h.addr:
		return a, done
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not start listening")
	}
	return "", nil // not reached: t.Fatal does not return
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr, done := serve(t, ctx, "127.0.0.1:0")

	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	for _, s := range []string{`vipd_build_info{goversion="`, `vipd_instance_state{`, "\ngo_goroutines "} {
		if !strings.Contains(string(body), s) {
			t.Errorf("GET /metrics: no %q in\n%s", s, body)
		}
	}

	res, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %s, want 404", res.Status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("still listening after Serve returned")
	}
}

// TestServeFailedScrape checks that a scrape that cannot be gathered fails
// with 500 rather than serving part of the metrics.
func TestServeFailedScrape(t *testing.T) {
	reg := newRegistry(t, &fakeSource{checks: map[string]health.Status{"\xff": {}}}, BuildInfo{})
	srv := httptest.NewServer(Handler(reg))
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("GET: %s, want 500", res.Status)
	}
}

func TestServeBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()

	reg := newRegistry(t, &fakeSource{}, BuildInfo{})
	err = Serve(t.Context(), addr, reg, nil)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Serve on a busy address: %v, want EADDRINUSE", err)
	}
	if want := fmt.Sprintf("metrics: listen %s: address already in use", addr); err.Error() != want {
		t.Fatalf("Serve on a busy address: %q, want %q", err, want)
	}
}

func TestServeNoAddress(t *testing.T) {
	reg := newRegistry(t, &fakeSource{}, BuildInfo{})
	if err := Serve(t.Context(), "", reg, nil); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("Serve(\"\"): %v, want ErrNoAddress", err)
	}
}
