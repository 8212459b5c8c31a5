package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/control/controltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// Re-executed by TestNonRootRefused as another user: act as a client
	// of the socket named and report, instead of running the tests.
	if path := os.Getenv(envClient); path != "" {
		os.Exit(actAsClient(path))
	}
	os.Exit(m.Run())
}

// requireRoot skips a test that needs root, or fails it where the whole
// suite is required to run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("VIPD_REQUIRE_NETNS") == "1" {
		t.Fatal("needs root (VIPD_REQUIRE_NETNS=1)")
	}
	t.Skip("needs root: drain and resume are refused to other users")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serve serves b on path until the test ends.
func serve(t *testing.T, path string, b control.Backend) *control.Server {
	t.Helper()
	srv, err := control.Listen(path, b, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

// rawClient makes plain HTTP requests over the socket at path.
func rawClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// staleSocket leaves a socket file at path that nobody listens on, as a
// daemon killed with SIGKILL does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket not left behind: %v, %v", fi, err)
	}
}

func TestStatusRoundTrip(t *testing.T) {
	t.Parallel()
	path := controltest.Serve(t, controltest.NewBackend(controltest.Sample()))
	got, err := control.NewClient(path).Status(ctxT(t))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	// Nil lists come back empty; times compare with Equal.
	if diff := cmp.Diff(controltest.Sample(), got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

// TestStatusGolden pins the JSON field names: they are an API.
func TestStatusGolden(t *testing.T) {
	t.Parallel()
	path := controltest.Serve(t, controltest.NewBackend(controltest.Sample()))
	resp, err := rawClient(path).Get("http://vipd" + control.PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %s, content type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	golden := filepath.Join("testdata", "status.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("GET %s differs from %s (-want +got); run with -update if the change is meant\n%s", control.PathStatus, golden, diff)
	}
}

func TestCheckDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, `"duration_ms":0`},
		{time.Nanosecond, `"duration_ms":0.000001`},
		{3250 * time.Microsecond, `"duration_ms":3.25`},
		{5 * time.Second, `"duration_ms":5000`},
		{time.Hour + 7*time.Nanosecond, `"duration_ms":3600000.000007`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(control.Check{Name: "c", Duration: tt.d})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(tt.want)) {
			t.Errorf("%v: %s, want it to contain %s", tt.d, b, tt.want)
		}
		var got control.Check
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Duration != tt.d || got.Name != "c" {
			t.Errorf("%v: round trip gave %+v", tt.d, got)
		}
	}
}

func TestDrainResume(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	c := control.NewClient(controltest.Serve(t, b))
	ctx := ctxT(t)

	drained := func() map[string]bool {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := make(map[string]bool)
		for _, in := range st.Instances {
			m[in.Name+"/"+in.Family] = in.Drained
		}
		return m
	}

	steps := []struct {
		op    func(context.Context, ...string) ([]string, error)
		names []string
		want  []string
		state map[string]bool
	}{
		{c.Resume, nil, []string{"api", "ingress"}, map[string]bool{"api/ipv4": false, "api/ipv6": false, "ingress/ipv4": false}},
		{c.Drain, []string{"api"}, []string{"api"}, map[string]bool{"api/ipv4": true, "api/ipv6": true, "ingress/ipv4": false}},
		{c.Drain, nil, []string{"api", "ingress"}, map[string]bool{"api/ipv4": true, "api/ipv6": true, "ingress/ipv4": true}},
		{c.Resume, []string{"ingress"}, []string{"ingress"}, map[string]bool{"api/ipv4": true, "api/ipv6": true, "ingress/ipv4": false}},
	}
	for i, s := range steps {
		got, err := s.op(ctx, s.names...)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("step %d: affected (-want +got)\n%s", i, diff)
		}
		if diff := cmp.Diff(s.state, drained()); diff != "" {
			t.Fatalf("step %d: drained (-want +got)\n%s", i, diff)
		}
	}
	wantCalls := []controltest.Call{
		{Op: "resume", Names: []string{}},
		{Op: "drain", Names: []string{"api"}},
		{Op: "drain", Names: []string{}},
		{Op: "resume", Names: []string{"ingress"}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Fatalf("backend calls (-want +got)\n%s", diff)
	}
}

// TestLive: the probe answers what the backend says, and a stuck router
// is named in the 503's message.
func TestLive(t *testing.T) {
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	c := control.NewClient(controltest.Serve(t, b))
	if err := c.Live(ctxT(t)); err != nil {
		t.Fatalf("Live: %v, want nil", err)
	}
	b.SetLive(errors.New("router api/ipv4 does not answer: context deadline exceeded"))
	err := c.Live(ctxT(t))
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "router api/ipv4 does not answer") {
		t.Fatalf("Live: %v, want a 503 naming the stuck router", err)
	}
	b.SetLive(nil)
	if err := c.Live(ctxT(t)); err != nil {
		t.Fatalf("Live after recovery: %v, want nil", err)
	}
}

func TestUnknownInstance(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	c := control.NewClient(controltest.Serve(t, b))
	_, err := c.Drain(ctxT(t), "api", "nope", "gone")
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		t.Fatalf("Drain: %v, want an APIError of status 400", err)
	}
	if want := `unknown instances "nope", "gone"`; ae.Message != want {
		t.Fatalf("message %q, want %q", ae.Message, want)
	}
	// Nothing is drained when any name is wrong.
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("backend called: %v", calls)
	}
}

// errBackend fails Drain with err, whatever the names.
type errBackend struct {
	*controltest.Backend
	err error
}

func (b errBackend) Drain([]string) ([]string, error) { return nil, b.err }

func TestBackendErrors(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantMsg  string
	}{
		{
			// An instance removed by a reload between the server's
			// check and the backend's call.
			name: "unknown", err: control.UnknownInstances("api"),
			wantCode: http.StatusBadRequest, wantMsg: `unknown instance "api"`,
		},
		{
			name: "failure", err: errors.New("router stopped"),
			wantCode: http.StatusInternalServerError, wantMsg: "drain: router stopped",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := errBackend{controltest.NewBackend(controltest.Sample()), tt.err}
			_, err := control.NewClient(controltest.Serve(t, b)).Drain(ctxT(t), "api")
			var ae *control.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Drain: %v, want an APIError", err)
			}
			if diff := cmp.Diff(&control.APIError{StatusCode: tt.wantCode, Message: tt.wantMsg}, ae); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		root      bool // only root gets past the credential check to the body
		method    string
		path      string
		body      string
		wantCode  int
		wantMsg   string // substring of the error
		wantAllow string
	}{
		{name: "unknown path", method: "GET", path: "/v2/status", wantCode: 404, wantMsg: `no such endpoint "/v2/status"`},
		{name: "root path", method: "GET", path: "/", wantCode: 404, wantMsg: "no such endpoint"},
		{name: "post status", method: "POST", path: control.PathStatus, body: "{}", wantCode: 405, wantMsg: "method not allowed, use GET", wantAllow: "GET"},
		{name: "get drain", method: "GET", path: control.PathDrain, wantCode: 405, wantMsg: "method not allowed, use POST", wantAllow: "POST"},
		{name: "delete resume", method: "DELETE", path: control.PathResume, wantCode: 405, wantAllow: "POST"},
		{name: "post live", method: "POST", path: control.PathLive, body: "{}", wantCode: 405, wantAllow: "GET"},
		{name: "truncated", root: true, method: "POST", path: control.PathDrain, body: `{"instances": [`, wantCode: 400, wantMsg: "malformed request"},
		{name: "not an object", root: true, method: "POST", path: control.PathDrain, body: `["api"]`, wantCode: 400, wantMsg: "malformed request"},
		{name: "wrong type", root: true, method: "POST", path: control.PathResume, body: `{"instances": "api"}`, wantCode: 400, wantMsg: "malformed request"},
		{name: "misspelt key", root: true, method: "POST", path: control.PathDrain, body: `{"instance": ["api"]}`, wantCode: 400, wantMsg: `unknown field "instance"`},
		{name: "empty body", root: true, method: "POST", path: control.PathDrain, wantCode: 400, wantMsg: "empty body"},
		{name: "trailing data", root: true, method: "POST", path: control.PathDrain, body: `{"instances": []} {}`, wantCode: 400, wantMsg: "data after the JSON object"},
		{name: "too large", root: true, method: "POST", path: control.PathDrain, body: `{"instances": ["` + strings.Repeat("a", 70<<10) + `"]}`, wantCode: 400, wantMsg: "body larger than 65536 bytes"},
	}
	b := controltest.NewBackend(controltest.Sample())
	hc := rawClient(controltest.Serve(t, b))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				requireRoot(t)
			}
			req, err := http.NewRequestWithContext(ctxT(t), tt.method, "http://vipd"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e control.ErrorResponse
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.wantCode || !strings.Contains(e.Error, tt.wantMsg) || e.Error == "" {
				t.Fatalf("got %d %q, want %d and a message containing %q", resp.StatusCode, e.Error, tt.wantCode, tt.wantMsg)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Fatalf("Allow: %q, want %q", got, tt.wantAllow)
			}
		})
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("backend called by bad requests: %v", calls)
	}
}

func TestListenCreatesDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run", "vipd", "vipd.sock")
	serve(t, path, controltest.NewBackend(controltest.Sample()))
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil || !dir.IsDir() {
		t.Fatalf("directory: %v, %v", dir, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want a socket of mode 0660", fi.Mode())
	}
	if os.Geteuid() == 0 {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			t.Fatalf("socket owned by %d:%d, want 0:0", st.Uid, st.Gid)
		}
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vipd.sock")
	staleSocket(t, path)
	serve(t, path, controltest.NewBackend(controltest.Sample()))
	if _, err := control.NewClient(path).Status(ctxT(t)); err != nil {
		t.Fatalf("Status after replacing the stale socket: %v", err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vipd.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := control.Listen(path, controltest.NewBackend(controltest.Sample()), nil)
	if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("file changed: %q, %v", b, err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	path := controltest.Serve(t, b)
	_, err := control.Listen(path, b, nil)
	if !errors.Is(err, control.ErrAlreadyRunning) {
		t.Fatalf("second Listen: %v, want ErrAlreadyRunning", err)
	}
	if want := "another vipd is running: it answers on " + path; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	// The first server keeps its socket.
	if _, err := control.NewClient(path).Status(ctxT(t)); err != nil {
		t.Fatalf("first server after the refused second: %v", err)
	}
}

func TestServeStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, srv *control.Server)
	}{
		{"context", func(cancel context.CancelFunc, _ *control.Server) { cancel() }},
		{"close", func(_ context.CancelFunc, srv *control.Server) { srv.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "vipd.sock")
			srv, err := control.Listen(path, controltest.NewBackend(controltest.Sample()), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			c := control.NewClient(path)
			if _, err := c.Status(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			tt.stop(cancel, srv)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return")
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file left behind: %v", err)
			}
			if _, err := c.Status(ctxT(t)); !errors.Is(err, control.ErrNotRunning) {
				t.Fatalf("Status after stop: %v, want ErrNotRunning", err)
			}
		})
	}
}

func TestCloseWithoutServe(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vipd.sock")
	srv, err := control.Listen(path, controltest.NewBackend(controltest.Sample()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left behind: %v", err)
	}
	if err := srv.Serve(context.Background()); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestClientNotRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	dead := filepath.Join(dir, "dead.sock")
	staleSocket(t, dead)
	tests := []struct {
		path string
		want string
	}{
		{missing, "vipd is not running: no socket at " + missing},
		{dead, "vipd is not running: connection refused on " + dead},
	}
	for _, tt := range tests {
		c := control.NewClient(tt.path)
		_, serr := c.Status(ctxT(t))
		_, derr := c.Drain(ctxT(t), "api")
		for _, err := range []error{serr, derr} {
			if !errors.Is(err, control.ErrNotRunning) {
				t.Errorf("%s: %v, want ErrNotRunning", tt.path, err)
			} else if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		}
	}
}

// TestClientTimeout: a daemon stuck with its socket open. The kernel
// accepts the connection; nobody answers.
func TestClientTimeout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vipd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = control.NewClient(path).Status(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, control.ErrNotRunning) {
		t.Fatalf("Status: %v, want a deadline error", err)
	}
}

// BenchmarkStatus measures a status call over the socket, the cost of one
// vipctl status beyond starting the process.
func BenchmarkStatus(b *testing.B) {
	c := control.NewClient(controltest.Serve(b, controltest.NewBackend(controltest.Sample())))
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Status(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
