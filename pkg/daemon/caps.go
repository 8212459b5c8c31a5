package daemon

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckCapabilities returns an error naming the capabilities vipd needs and
// lacks: CAP_NET_ADMIN to bind addresses, CAP_NET_RAW for VRRP and ARP
// sockets.
func CheckCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}, {unix.CAP_NET_RAW, "CAP_NET_RAW"}} {
		if data[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("vipd needs %s: run it as root or with AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW (see the unit, vipd.service)",
			strings.Join(missing, " and "))
	}
	return nil
}
