package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrNotRunning is wrapped by the Client's errors when no daemon listens
// on the socket.
var ErrNotRunning = errors.New("vipd is not running")

// ErrForbidden matches (errors.Is) an APIError of status 403: the peer may
// not make the call.
var ErrForbidden = errors.New("forbidden")

// APIError is an error answered by the server.
type APIError struct {
	StatusCode int    // HTTP status
	Message    string // the server's explanation
}

func (e *APIError) Error() string { return e.Message }

// Is reports whether target is ErrForbidden and the call was refused for
// lack of privilege.
func (e *APIError) Is(target error) bool {
	return target == ErrForbidden && e.StatusCode == http.StatusForbidden
}

// maxResponse bounds what the client reads of an answer; a status of
// hundreds of instances is well below it.
const maxResponse = 16 << 20

// clientTimeout bounds a call when the caller's context does not.
const clientTimeout = 30 * time.Second

// Client calls the control API of a vipd.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client of the daemon listening on socketPath. It
// does not connect until a call.
func NewClient(socketPath string) *Client {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "unix", socketPath)
			if err != nil {
				return nil, &dialError{err: explainDial(socketPath, err)}
			}
			return c, nil
		},
		DisableCompression: true,
		MaxIdleConns:       1,
		IdleConnTimeout:    10 * time.Second,
	}
	return &Client{path: socketPath, hc: &http.Client{Transport: tr, Timeout: clientTimeout}}
}

// dialError carries an explained connection failure through net/http,
// which wraps it in a *url.Error naming the made-up URL.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// explainDial turns a failure to connect into what it means for a user.
func explainDial(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: no socket at %s", ErrNotRunning, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Also what connect says of a file that is not a socket.
		return fmt.Errorf("%w: connection refused on %s", ErrNotRunning, path)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("cannot connect to vipd: %w on %s", fs.ErrPermission, path)
	}
	return fmt.Errorf("cannot connect to vipd: %w", err)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &st)
	return st, err
}

// Drain drains the named instances, or all of them when no name is given,
// and returns the names of the instances affected.
func (c *Client) Drain(ctx context.Context, names ...string) ([]string, error) {
	return c.change(ctx, PathDrain, names)
}

// Resume resumes the named instances, or all of them when no name is
// given, and returns the names of the instances affected.
func (c *Client) Resume(ctx context.Context, names ...string) ([]string, error) {
	return c.change(ctx, PathResume, names)
}

// Live returns nil when vipd answers that every virtual router's goroutine
// answers, and an *APIError with status 503 naming those that do not.
func (c *Client) Live(ctx context.Context) error {
	var resp LiveResponse
	if err := c.do(ctx, http.MethodGet, PathLive, nil, &resp); err != nil {
		return err
	}
	if !resp.Live {
		return fmt.Errorf("control: %s answered 200 without live", PathLive)
	}
	return nil
}

func (c *Client) change(ctx context.Context, path string, names []string) ([]string, error) {
	body, err := json.Marshal(InstancesRequest{Instances: nonNil(names)})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	var resp InstancesResponse
	if err := c.do(ctx, http.MethodPost, path, body, &resp); err != nil {
		return nil, err
	}
	return resp.Instances, nil
}

// do makes one call and decodes its answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The host is never resolved: the transport dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://vipd"+path, rd)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var de *dialError
		if errors.As(err, &de) {
			return de.err
		}
		return fmt.Errorf("control: %s %s on %s: %w", method, path, c.path, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if err := dec.Decode(&e); err != nil || e.Error == "" {
			e.Error = fmt.Sprintf("vipd answered %s to %s %s", resp.Status, method, path)
		}
		return &APIError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("control: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}
