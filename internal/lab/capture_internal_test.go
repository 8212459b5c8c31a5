package lab

import "testing"

func TestDroppedFrames(t *testing.T) {
	for _, tt := range []struct {
		stderr string
		want   int
	}{
		{"tcpdump: listening on vl1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n626 packets captured\n1020 packets received by filter\n394 packets dropped by kernel\n", 394},
		{"tcpdump: listening on vl1\n255 packets captured\n255 packets received by filter\n0 packets dropped by kernel\n", 0},
		{"tcpdump: listening on vl1\n", 0}, // killed before its statistics
	} {
		if got := droppedFrames(tt.stderr); got != tt.want {
			t.Errorf("droppedFrames(%q) = %d, want %d", tt.stderr, got, tt.want)
		}
	}
}
