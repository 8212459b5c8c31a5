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
	"os"
	"slices"
	"strings"

	"github.com/vipd/vipd/internal/procgroup"
)

// httpChecker GETs a URL and accepts the expected status codes.
type httpChecker struct {
	url    string
	expect []int
	client *http.Client
}

var _ Checker = (*httpChecker)(nil)

func newHTTPChecker(s Spec) (*httpChecker, error) {
	tr := &http.Transport{
		// Every probe opens a new connection and closes it: a kept-alive
		// connection to a server that has since hung or lost its
		// listener would keep answering from a stale state, or fail for
		// reasons the next connection would not have.
		DisableKeepAlives: true,
		// Health checks probe local or directly addressed servers; an
		// HTTPS_PROXY in vipd's environment must not reroute them.
		Proxy:       nil,
		DialContext: (&net.Dialer{}).DialContext,
	}
	if s.Type == TypeHTTPS {
		cfg, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return &httpChecker{
		url:    s.URL,
		expect: slices.Clone(s.ExpectStatus),
		client: &http.Client{
			Transport: tr,
			// A redirect is an answer: it is judged against
			// ExpectStatus rather than followed to another server.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// tlsConfig reads the CA bundle and client certificate of an https check.
func tlsConfig(s Spec) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.InsecureSkipVerify,
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", s.CAFile)
		}
		cfg.RootCAs = pool
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s, key %s: %w", s.CertFile, s.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Check GETs the URL. The context bounds the whole probe: dial, TLS
// handshake, headers and reading the body.
func (c *httpChecker) Check(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", c.url, err)
	}
	req.Header.Set("User-Agent", "vipd-health")
	resp, err := c.client.Do(req)
	if err != nil {
		// url.Error would quote the URL a second time.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("GET %s: %w", c.url, err)
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
