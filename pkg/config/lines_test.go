package config

import (
	"io"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

func TestIndexLines(t *testing.T) {
	src := `# comment [not] = "a table"
top = 1
[cluster]   # trailing [comment]
"name" = "x = [y]"
[[cluster.node]]
name = 'a'
[[ cluster.node ]]
name = """
b = 2
[fake]"""
[[instance]]
vips = [
  "192.0.2.1", # ]
  "192.0.2.2",
]
track = [{ check = "a", weight = -30 }]
x.y = "say \"hi\" # ]"
[[instance]]
vrid = 2
[[instance.hook]]
run = "a"
[[instance.hook]]
run = "b"
[daemon]
log_level = "info"
`
	// The test document must be valid TOML, as indexLines assumes.
	var m map[string]any
	if _, err := toml.Decode(src, &m); err != nil {
		t.Fatalf("test document: %v", err)
	}
	x := indexLines(src)
	want := map[string]int{
		"top":                         2,
		"cluster":                     3,
		"cluster.name":                4,
		"cluster.node[0]":             5,
		"cluster.node[0].name":        6,
		"cluster.node[1]":             7,
		"cluster.node[1].name":        8,
		"instance[0]":                 11,
		"instance[0].vips":            12,
		"instance[0].track":           16,
		"instance[0].track[0].weight": 16, // inline: falls back to the key
		"instance[0].x.y":             17,
		"instance[1]":                 18,
		"instance[1].vrid":            19,
		"instance[1].hook[0]":         20,
		"instance[1].hook[0].run":     21,
		"instance[1].hook[1].run":     23,
		"instance[1].priority":        18, // not written: the table's line
		"daemon.log_level":            25,
		"fake":                        0,
		"b":                           0,
	}
	got := make(map[string]int)
	for path := range want {
		got[path] = x.line(path)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("line (-want +got)\n%s", diff)
	}

	e, ok := x.occurrence("instance.hook.run", 1)
	if diff := cmp.Diff(lineEntry{plain: "instance.hook.run", path: "instance[1].hook[1].run", line: 23}, e, cmp.AllowUnexported(lineEntry{})); !ok || diff != "" {
		t.Fatalf("occurrence: ok %t (-want +got)\n%s", ok, diff)
	}
	if _, ok := x.occurrence("instance.hook.run", 2); ok {
		t.Fatal("occurrence found a third instance.hook.run")
	}
}

// FuzzParse checks that no input makes Parse panic, that the line
// scanner, which Parse runs only on valid TOML, survives any input too, and
// that a valid file resolves for every node and reports without error.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + api("unicast = true")))
	f.Add([]byte(head + chk("a", tcpCheck) + chk("b", httpsCheck, "rise = 1") +
		api(`track = [{ check = "a", weight = -10 }, { check = "b", weight = 5 }]`, `track_interfaces = ["eth1"]`)))
	f.Add([]byte(chk("a", tcpCheck) + api(`interface = "eth0"`, "priority = 255", "version = 2", `track = [{ check = "a", weight = 254 }]`)))
	f.Add([]byte("a = \"\"\"x\"\"\"\"\"\n[[b]]\n'c' = '''\n'''\n"))
	f.Add([]byte("\"unterminated"))
	f.Add([]byte("x = [ { a = 1 }, # ]\n]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		indexLines(string(data))
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		for _, n := range nodeNames(c) {
			if _, err := c.ForNode(n); err != nil {
				t.Fatalf("ForNode(%q) of a valid file: %v", n, err)
			}
		}
		if err := c.Report(io.Discard); err != nil {
			t.Fatalf("Report of a valid file: %v", err)
		}
	})
}
