package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Backend is what the server needs of the daemon.
type Backend interface {
	// Status returns a snapshot of the daemon.
	Status() Status
	// Drain makes the named instances give up mastership and stay backups
	// until resumed; no names means all instances. It returns the names of
	// the instances affected, and for names of no instance an error
	// wrapping ErrUnknownInstance that names them (see UnknownInstances).
	Drain(names []string) ([]string, error)
	// Resume undoes Drain, with the same conventions.
	Resume(names []string) ([]string, error)
	// Live returns nil when every virtual router's goroutine answers
	// before ctx ends, and an error naming those that do not.
	Live(ctx context.Context) error
}

// ErrAlreadyRunning is returned by Listen when a server answers on the
// socket already.
var ErrAlreadyRunning = errors.New("another vipd is running")

// Limits of the server. Requests are tiny and answered from memory, so
// anything slow is a stuck or hostile client.
const (
	maxRequestBody    = 64 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 2 * time.Second
	// liveTimeout bounds GET /v1/live: a router goes round its loop in
	// microseconds, and the answer must come before a probe's own
	// timeout (vipctl's callTimeout, a pod's timeoutSeconds).
	liveTimeout = 3 * time.Second
	// staleDialTimeout bounds the probe of an existing socket file: a
	// live server accepts at once, the kernel queues the connection even
	// if the server is busy.
	staleDialTimeout = time.Second
)

// socketMode is the mode of the socket file: root and the root group may
// connect. Changing calls are checked by peer credentials on top of this.
const socketMode = 0o660

// Server serves the control API on a unix socket.
type Server struct {
	path string
	ln   *net.UnixListener
	srv  *http.Server
	b    Backend
	log  *slog.Logger
}

// Listen creates the socket at path and returns a Server that answers on it
// once Serve runs. It creates the socket's directory if missing, and
// replaces a stale socket file left by a daemon that died; when a server
// answers on path, it fails with ErrAlreadyRunning. A nil logger discards.
func Listen(path string, b Backend, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: listen: %w", err)
	}
	// The socket exists with the umask's mode until this chmod; that
	// window is harmless because changing calls are decided by the peer's
	// credentials, not by who could open the file.
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	// vipd runs as root, so the socket is root's already; the chown only
	// matters under a different group, and fails harmlessly when tests
	// run unprivileged.
	if err := os.Chown(path, 0, 0); err != nil && !errors.Is(err, os.ErrPermission) {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	s := &Server{path: path, ln: ln, b: b, log: logger}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// removeStale removes the file at path if it is a socket nobody answers
// on: the leftover of a daemon that was killed.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("control: %s exists and is not a socket; remove it or choose another path", path)
	}
	c, err := net.DialTimeout("unix", path, staleDialTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: it answers on %s", ErrAlreadyRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control: probe existing socket: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control: remove stale socket: %w", err)
	}
	return nil
}

// Path returns the path of the socket.
func (s *Server) Path() string { return s.path }

// Serve answers requests until ctx ends or Close is called, then closes
// the listener, which removes the socket file. It returns nil when stopped
// that way.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		s.Close()
		return fmt.Errorf("control: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	<-errc
	// Shutdown closed the listener if Serve had registered it; if ctx
	// ended first it had not.
	s.ln.Close()
	return nil
}

// Close stops the server at once and removes the socket file.
func (s *Server) Close() error {
	err := s.srv.Close()
	// A listener Serve never saw is not closed by srv.Close.
	if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = cerr
	}
	return err
}

// peer is who is at the other end of a connection, as the kernel says.
type peer struct {
	uid, pid int
	err      error // why the credentials are unknown
}

type peerKey struct{}

// connContext stores the peer's credentials in the context of every
// request on c. SO_PEERCRED returns the credentials the peer had when it
// connected, which cannot be forged by the peer.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

func peerOf(c net.Conn) peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{err: fmt.Errorf("not a unix socket connection (%T)", c)}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{err: err}
	}
	var (
		cred *unix.Ucred
		cerr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{err: err}
	}
	if cerr != nil {
		return peer{err: fmt.Errorf("SO_PEERCRED: %w", cerr)}
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid)}
}

func peerFrom(ctx context.Context) peer {
	p, ok := ctx.Value(peerKey{}).(peer)
	if !ok {
		return peer{err: errors.New("no peer credentials")}
	}
	return p
}

// ServeHTTP implements http.Handler. The routes are few and fixed; a
// switch gives JSON errors for unknown paths and methods, which
// http.ServeMux answers in plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathStatus:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		writeJSON(w, http.StatusOK, s.b.Status().normalized())
	case PathDrain:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, http.MethodPost)
			return
		}
		s.change(w, r, "drain", s.b.Drain)
	case PathResume:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, http.MethodPost)
			return
		}
		s.change(w, r, "resume", s.b.Resume)
	case PathLive:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
		defer cancel()
		if err := s.b.Live(ctx); err != nil {
			s.log.Warn("control: not live", "error", err)
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, LiveResponse{Live: true})
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %q (this vipd serves %s, %s, %s, %s)",
			r.URL.Path, PathStatus, PathDrain, PathResume, PathLive))
	}
}

// change runs a call that changes the daemon: root only.
func (s *Server) change(w http.ResponseWriter, r *http.Request, what string, fn func([]string) ([]string, error)) {
	p := peerFrom(r.Context())
	if p.err != nil {
		s.log.Warn("control: refused "+what+": unknown peer", "error", p.err)
		writeError(w, http.StatusForbidden, fmt.Sprintf("only root may drain or resume (cannot tell who you are: %v)", p.err))
		return
	}
	if p.uid != 0 {
		s.log.Warn("control: refused "+what+" to non-root peer", "uid", p.uid, "pid", p.pid)
		writeError(w, http.StatusForbidden, fmt.Sprintf("only root may drain or resume (you are uid %d)", p.uid))
		return
	}
	req, err := decodeRequest(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.checkNames(req.Instances); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	affected, err := fn(req.Instances)
	switch {
	case errors.Is(err, ErrUnknownInstance):
		// The configuration changed between the check and the call.
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		s.log.Error("control: "+what+" failed", "instances", req.Instances, "error", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s: %v", what, err))
		return
	}
	s.log.Info("control: "+what, "requested", req.Instances, "affected", affected, "uid", p.uid, "pid", p.pid)
	writeJSON(w, http.StatusOK, InstancesResponse{Instances: nonNil(affected)})
}

// checkNames refuses names of no instance before the backend sees them,
// so the answer names them whatever the backend's error says.
func (s *Server) checkNames(names []string) error {
	if len(names) == 0 {
		return nil
	}
	known := make(map[string]bool)
	for _, in := range s.b.Status().Instances {
		known[in.Name] = true
	}
	var unknown []string
	for _, n := range names {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return UnknownInstances(unknown...)
	}
	return nil
}

func decodeRequest(r io.Reader) (InstancesRequest, error) {
	var req InstancesRequest
	dec := json.NewDecoder(r)
	// A misspelt key would otherwise mean "all instances".
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return req, errors.New(`malformed request: empty body, want {"instances": [...]}`)
		case errors.As(err, &tooBig):
			return req, fmt.Errorf("malformed request: body larger than %d bytes", tooBig.Limit)
		}
		return req, fmt.Errorf("malformed request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("malformed request: data after the JSON object")
	}
	return req, nil
}

// UnknownInstances returns an error wrapping ErrUnknownInstance that names
// the instances, for a Backend to return.
func UnknownInstances(names ...string) error {
	return unknownInstances(names)
}

type unknownInstances []string

func (u unknownInstances) Error() string {
	q := make([]string, len(u))
	for i, n := range u {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(u) == 1 {
		return "unknown instance " + q[0]
	}
	return "unknown instances " + strings.Join(q, ", ")
}

func (u unknownInstances) Is(target error) bool { return target == ErrUnknownInstance }

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, r.URL.Path, allow))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorResponse{Error: msg})
}

// writeJSON answers indented JSON, for people reading it with curl.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only a time outside years 0-9999 fails to encode; say so in
		// a body that needs no encoding.
		code = http.StatusInternalServerError
		b = []byte(`{"error": "vipd could not encode its answer: a time is out of range"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
