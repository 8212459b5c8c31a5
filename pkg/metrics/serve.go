package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ErrNoAddress is returned by Serve for an empty address: an empty listen
// address would serve on every interface at a random port, and a disabled
// endpoint is the caller's business, not Serve's.
var ErrNoAddress = errors.New("metrics: no listen address")

// shutdownTimeout bounds how long Serve waits for scrapes in flight once
// its context is done.
const shutdownTimeout = 5 * time.Second

// Handler serves the metrics of reg in the Prometheus exposition formats.
// A scrape fails with HTTP 500 when a metric cannot be gathered, so that a
// broken exporter shows as a failed target instead of silently missing
// series.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Serve serves the metrics of reg at /metrics on the TCP address addr until
// ctx is done, then shuts down, letting scrapes in flight finish. It returns
// nil after a shutdown, and an error if it cannot listen on addr or the
// server fails. The logger (nil discards) is told the address it listens
// on, which tells the port when addr asked for any.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if addr == "" {
		return ErrNoAddress
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, listenCause(err))
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(reg))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	logger.Info("serving metrics", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	select {
	case err := <-done:
		// Serve returns only on failure while the server is not shut down.
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Scrapes still running after the timeout are cut off.
		_ = srv.Close()
		logger.Warn("metrics server did not shut down gracefully", "error", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// listenCause strips the "listen tcp ADDR: bind:" layers of a listen
// error, which the caller's message already says, leaving the cause
// ("address already in use"); errors.Is still finds the errno.
func listenCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	return err
}
