package deps

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// low are the packages that must not reach the system: configuration,
// its conversion from keepalived, vipctl, hooks, checks, the control API
// and the protocol core. Only pkg/netif and pkg/daemon, and the commands
// built on them, may.
var low = []string{
	"github.com/vipd/vipd/pkg/config",
	"github.com/vipd/vipd/pkg/kaconf",
	"github.com/vipd/vipd/cmd/vipctl",
	"github.com/vipd/vipd/pkg/hooks",
	"github.com/vipd/vipd/pkg/health",
	"github.com/vipd/vipd/pkg/linkstate",
	"github.com/vipd/vipd/pkg/control",
	"github.com/vipd/vipd/pkg/vrrp",
	"github.com/vipd/vipd/pkg/router",
}

// forbidden are the prefixes of netlink and raw socket packages.
var forbidden = []string{
	"github.com/vishvananda/",
	"github.com/mdlayher/",
	"golang.org/x/net/bpf",
	"golang.org/x/net/ipv4",
	"golang.org/x/net/ipv6",
	"github.com/vipd/vipd/pkg/netif",
	"github.com/vipd/vipd/pkg/daemon",
}

func TestNoSystemBelow(t *testing.T) {
	for _, root := range low {
		t.Run(strings.TrimPrefix(root, "github.com/vipd/vipd/"), func(t *testing.T) {
			t.Parallel()
			imports := importGraph(t, root)
			for _, pkg := range slices.Sorted(maps.Keys(imports)) {
				if slices.ContainsFunc(forbidden, func(f string) bool { return strings.HasPrefix(pkg, f) }) {
					t.Errorf("%s links %s: %s", root, pkg, strings.Join(path(imports, root, pkg), " -> "))
				}
			}
		})
	}
}

// importGraph returns the imports of root and of every package it
// depends on, by package, as go list -deps sees them.
func importGraph(t *testing.T, root string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, root).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", root, err, stderr)
	}
	g := make(map[string][]string)
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			g[f[0]] = f[1:]
		}
	}
	return g
}

// path returns a chain of imports from root to pkg, for the error.
func path(g map[string][]string, root, pkg string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == pkg {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range g[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{root, "?", pkg}
}
