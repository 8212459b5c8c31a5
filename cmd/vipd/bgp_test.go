package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/config"
)

const bgpFile = `
[cluster]
[[cluster.node]]
name = "cp-1"
address = "198.51.100.18"
[[cluster.node]]
name = "cp-2"
address = "198.51.100.34"
[bgp]
asn = 64512
hold_time = "3s"
[[bgp.peer]]
address = "192.0.2.1"
asn = 64500
password_file = "@KEY@"
multihop = 2
[[instance]]
name = "api"
vips = ["203.0.113.10"]
announce = "bgp"
`

func TestBGPConfig(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "bgp.key")
	if err := os.WriteFile(key, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("vipd.toml", []byte(strings.Replace(bgpFile, "@KEY@", key, 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bgpConfig(cfg, "cp-2")
	if err != nil {
		t.Fatal(err)
	}
	want := bgp.Peer{Address: netip.MustParseAddr("192.0.2.1"), ASN: 64500, Password: "s3cret", Multihop: 2}
	if got.RouterID != netip.MustParseAddr("198.51.100.34") || got.ASN != 64512 || len(got.Peers) != 1 || got.Peers[0] != want {
		t.Errorf("bgpConfig(cp-2) = %+v", got)
	}

	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, err := bgpConfig(cfg, "cp-1"); err == nil || !strings.Contains(err.Error(), key) {
		t.Errorf("bgpConfig with the key file gone: %v", err)
	}
}

// TestCheckBGPBuild: vipd -t says whether this build can announce over
// BGP.
func TestCheckBGPBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vipd.toml")
	if err := os.WriteFile(path, []byte(strings.Replace(bgpFile, "password_file = \"@KEY@\"\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-t", "-config", path}, &stdout, &stderr)
	switch {
	case newSpeaker == nil && (code != 1 || !strings.Contains(stderr.String(), "needs vipd-bgp")):
		t.Errorf("vipd -t without GoBGP: exit %d, stderr %q", code, stderr.String())
	case newSpeaker != nil && code != 0:
		t.Errorf("vipd -t with GoBGP: exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "cp-1 dies: routers move the VIP to cp-2 within 3s") {
		t.Errorf("vipd -t shows no BGP failover:\n%s", stdout.String())
	}
}
