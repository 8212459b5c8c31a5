package vrrp

import (
	"net/netip"
	"time"
)

// SkewTime is the delay a backup of the given priority adds to the master
// down interval so that the best backup takes over first.
//
// Version 3 (RFC 9568 section 6.1): ((256 - Priority) * Master_Adver_Interval) / 256.
// Version 2 (RFC 3768 section 6.1): (256 - Priority) / 256 seconds.
func SkewTime(version, priority uint8, masterInterval time.Duration) time.Duration {
	if version == 2 {
		return time.Duration(256-int64(priority)) * time.Second / 256
	}
	return time.Duration(256-int64(priority)) * masterInterval / 256
}

// MasterDownInterval is how long a backup waits without hearing the master
// before it takes over: 3 * Master_Adver_Interval + Skew_Time. In version 2
// the interval is the locally configured Advertisement_Interval, which must
// equal the master's.
func MasterDownInterval(version, priority uint8, masterInterval time.Duration) time.Duration {
	return 3*masterInterval + SkewTime(version, priority, masterInterval)
}

// Wins reports whether an advertisement of priority theirs from address
// from beats a router of priority ours with primary address local: a higher
// priority wins, and between equal priorities the higher primary address
// (RFC 9568 section 6.4.3).
func Wins(theirs uint8, from netip.Addr, ours uint8, local netip.Addr) bool {
	if theirs != ours {
		return theirs > ours
	}
	return from.Compare(local) > 0
}
