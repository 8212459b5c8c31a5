package netif

// SetEventBuf gives e a receive buffer of n bytes.
func SetEventBuf(e *Events, n int) { e.buf = make([]byte, n) }
