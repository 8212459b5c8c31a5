package kaconf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary files to the parser and the converter: neither
// may panic, and whatever converts must load in vipd.
func FuzzParse(f *testing.F) {
	confs, err := filepath.Glob("testdata/*/*.conf")
	if err != nil {
		f.Fatal(err)
	}
	more, err := filepath.Glob("testdata/*/*/*.conf")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range append(confs, more...) {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"vrrp_instance a { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 192.0.2.1 }\n}\n",
		"vrrp_instance a {\ninclude inc.conf\n}\n",
		"include {a,{b,c}}*\n",
		"$A=${A}${A}\nx $A\n",
		"a {{{{ }}}}\n",
		"vrrp_script s {\nscript \"curl -sf -m 1e9 http://[::1]/\"\ninterval 1e3\ntimeout 0x10\n}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		load := mapLoader{
			"keepalived.conf": string(data),
			"inc.conf":        "virtual_router_id 7\nvirtual_ipaddress { 192.0.2.7/24 }\n",
		}
		res, err := convert(load, []string{"keepalived.conf"}, Options{})
		switch {
		case err == nil:
			for _, nd := range res.Nodes {
				if err := validate(nd.Name, nd.TOML); err != nil {
					t.Fatalf("vipd rejects the converted file: %v\n%s", err, nd.TOML)
				}
			}
		case errors.Is(err, ErrSyntax), errors.Is(err, ErrNothingToConvert), errors.Is(err, ErrRefused):
		default:
			t.Fatalf("convert: %v", err)
		}
	})
}
