package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/internal/procgroup"
)

// httpChecker GETs a URL and accepts the expected status codes.
type httpChecker struct {
	url    string
	expect []int

	mu     sync.Mutex // serialises the use of files and client
	files  *tlsFiles  // of an https check, else nil
	client *http.Client
	tls    *tls.Config // that client was built with
}

var _ Checker = (*httpChecker)(nil)

func newHTTPChecker(s Spec) *httpChecker {
	c := &httpChecker{url: s.URL, expect: slices.Clone(s.ExpectStatus)}
	if s.Type == TypeHTTPS {
		c.files = newTLSFiles(s)
	} else {
		c.client = newHTTPClient(nil)
	}
	return c
}

// newHTTPClient returns a client for one check; cfg is its TLS
// configuration, nil for http.
func newHTTPClient(cfg *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// Every probe opens a new connection and closes it: a
			// kept-alive connection to a server that has since hung or
			// lost its listener would keep answering from a stale
			// state, or fail for reasons the next connection would not
			// have.
			DisableKeepAlives: true,
			// Health checks probe local or directly addressed servers;
			// an HTTPS_PROXY in vipd's environment must not reroute
			// them.
			Proxy:           nil,
			DialContext:     (&net.Dialer{}).DialContext,
			TLSClientConfig: cfg,
		},
		// A redirect is an answer: it is judged against ExpectStatus
		// rather than followed to another server.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// currentClient returns the client to probe with: for https, one built with
// the files as they are now, or the error that says which file is wrong.
func (c *httpChecker) currentClient() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		return c.client, nil
	}
	cfg, err := c.files.config(time.Now())
	if err != nil {
		return nil, err
	}
	if cfg != c.tls {
		c.client, c.tls = newHTTPClient(cfg), cfg
	}
	return c.client, nil
}

// hint returns what to add to the error of a probe whose TLS handshake
// failed: which CA file lacked the server's CA, or that server_name may be
// needed.
func (c *httpChecker) hint(err error) string {
	var (
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	switch {
	case c.files == nil:
	case errors.As(err, &unknown) && c.files.caFile != "":
		return "; the certificate's CA is not in ca_file " + c.files.caFile
	case errors.As(err, &host) && c.files.base.ServerName == "":
		return "; set server_name to a name the certificate holds"
	}
	return ""
}

// Check GETs the URL. The context bounds the whole probe: dial, TLS
// handshake, headers and reading the body.
func (c *httpChecker) Check(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", c.url, err)
	}
	req.Header.Set("User-Agent", "vipd-health")
	client, err := c.currentClient()
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error would quote the URL a second time.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("GET %s: %w%s", c.url, err, c.hint(err))
	}
	defer resp.Body.Close()

	var body procgroup.Output
	_, rerr := io.Copy(&body, io.LimitReader(resp.Body, MaxOutput+1))
	out := body.String()
	if rerr != nil {
		return out, fmt.Errorf("GET %s: status %d, reading body: %w", c.url, resp.StatusCode, rerr)
	}
	if !slices.Contains(c.expect, resp.StatusCode) {
		msg := fmt.Sprintf("GET %s: status %d, want %v", c.url, resp.StatusCode, c.expect)
		if b := strings.TrimSpace(brief(out)); b != "" {
			msg += ": " + b
		}
		return out, errors.New(msg)
	}
	return out, nil
}
