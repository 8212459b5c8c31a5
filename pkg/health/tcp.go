package health

import (
	"context"
	"fmt"
	"net"
)

// tcpChecker succeeds when a TCP connection to addr is established.
type tcpChecker struct {
	addr string
}

var _ Checker = (*tcpChecker)(nil)

// Check connects and closes the connection at once.
func (c *tcpChecker) Check(ctx context.Context) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", c.addr, err)
	}
	// The connection was established, which is all the check asks; an
	// error closing it says nothing about the server.
	_ = conn.Close()
	return "", nil
}
