package kaconf

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vipd/vipd/pkg/config"
)

// ErrNothingToConvert is returned when a file yields no virtual router:
// it has no vrrp_instance, or none that vipd can run.
var ErrNothingToConvert = errors.New("kaconf: nothing to convert")

// A Note is something of a keepalived configuration that the vipd
// configuration does not carry over, or carries over differently, with
// the place it comes from and why.
type Note struct {
	File string
	Line int // 0 when the note concerns the whole file
	Msg  string
}

// String formats the note as file:line: message.
func (n Note) String() string {
	if n.Line == 0 {
		return fmt.Sprintf("%s: %s", n.File, n.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Msg)
}

// A Node is the vipd configuration converted from one keepalived.conf.
type Node struct {
	// Name is the node's name: keepalived's router_id, else the file's
	// name without its extension. Names are unique within a Result and
	// safe as file names.
	Name string
	// Source is the keepalived.conf the node was converted from, as given.
	Source string
	// TOML is the vipd configuration. It describes the node alone (no
	// [cluster]) and passes config.Parse.
	TOML []byte
}

// Result is what Convert made.
type Result struct {
	// Nodes are the converted files, in the order given.
	Nodes []Node
	// Notes are everything not carried over, by file (in the order read)
	// and line.
	Notes []Note
}

// Convert converts keepalived configurations, one file per node, each with
// the files it includes, into vipd configurations.
//
// Each node gets a file of its own, without [cluster], as keepalived.conf
// is: a [cluster] derives the priorities from the order of the nodes (250,
// 240, ...), while keepalived's are whatever the operator chose (often 101
// and 100), and during a rolling migration, vipd and keepalived nodes that
// share a virtual router must keep exactly those. Given several files,
// Convert also checks that they describe the same virtual routers
// consistently (the same VIPs, version, interval and password), and notes
// where they do not.
//
// On an error, Result holds the notes made so far. The error is a
// *SyntaxError (errors.Is ErrSyntax) for a file keepalived's syntax cannot
// read, wraps ErrNothingToConvert for a file without a convertible
// vrrp_instance, and otherwise reports a file that cannot be read.
func Convert(files []string) (Result, error) {
	return convert(osLoader{}, files)
}

func convert(load loader, files []string) (Result, error) {
	n := &notes{}
	var nodes []*node
	for _, f := range files {
		n.file(f)
		stmts, err := parseFile(load, f, n)
		if err != nil {
			return Result{Notes: n.sorted()}, err
		}
		nd := convertFile(f, stmts, n)
		if len(nd.instances) == 0 {
			return Result{Notes: n.sorted()}, fmt.Errorf("%s: no vrrp_instance that vipd can run: %w", f, ErrNothingToConvert)
		}
		nodes = append(nodes, nd)
	}
	nameNodes(nodes, n)
	compareNodes(nodes, n)

	var res Result
	for _, nd := range nodes {
		data := render(nd)
		if err := validate(nd.source, data); err != nil {
			// Each instance and check was validated on its own; a
			// problem left is a converter bug, not the input's.
			return Result{Notes: n.sorted()}, fmt.Errorf("kaconf: %s: the converted configuration is invalid (a bug of the converter): %w", nd.source, err)
		}
		res.Nodes = append(res.Nodes, Node{Name: nd.name, Source: nd.source, TOML: data})
	}
	res.Notes = n.sorted()
	return res, nil
}

// validate checks a converted file as vipd -t does: it parses, and every
// node (here: the one) resolves.
func validate(name string, data []byte) error {
	cfg, err := config.Parse(name, data)
	if err != nil {
		return err
	}
	_, err = cfg.ForNode("")
	return err
}

// notes collects Notes, ordered by the file they concern (in the order
// files were first read) and line.
type notes struct {
	list  []Note
	order map[string]int
}

func (n *notes) file(name string) {
	if n.order == nil {
		n.order = make(map[string]int)
	}
	if _, ok := n.order[name]; !ok {
		n.order[name] = len(n.order)
	}
}

func (n *notes) add(file string, line int, msg string) {
	n.file(file)
	n.list = append(n.list, Note{File: file, Line: line, Msg: msg})
}

// at adds a note about statement s.
func (n *notes) at(s *stmt, format string, args ...any) {
	n.add(s.file, s.line, fmt.Sprintf(format, args...))
}

func (n *notes) sorted() []Note {
	out := slices.Clone(n.list)
	slices.SortStableFunc(out, func(a, b Note) int {
		return cmp.Or(cmp.Compare(n.order[a.File], n.order[b.File]), cmp.Compare(a.Line, b.Line))
	})
	return out
}

// nameNodes names the nodes: by router_id, unless several files share it
// (kubeadm's guide gives every node "LVS_DEVEL"), then by file name, or by
// directory name for files all called keepalived.conf; names stay unique
// and safe as file names.
func nameNodes(nodes []*node, n *notes) {
	type candidates struct{ id, stem, dir string }
	cands := make([]candidates, len(nodes))
	count := make(map[string]int)
	for i, nd := range nodes {
		base := filepath.Base(nd.source)
		c := candidates{id: nd.name, stem: safeName(strings.TrimSuffix(base, filepath.Ext(base)))}
		if dir := filepath.Base(filepath.Dir(nd.source)); dir != "." && dir != string(filepath.Separator) {
			c.dir = safeName(dir)
		}
		cands[i] = c
		count["id:"+c.id]++
		count["stem:"+c.stem]++
		count["dir:"+c.dir]++
	}
	used := make(map[string]bool)
	for i, nd := range nodes {
		c := cands[i]
		var name string
		switch {
		case c.id != "" && count["id:"+c.id] == 1:
			name = c.id
		case c.stem != "" && c.stem != "keepalived" && count["stem:"+c.stem] == 1:
			name = c.stem
		case c.dir != "" && count["dir:"+c.dir] == 1:
			name = c.dir
		case c.id != "":
			name = c.id
		case c.stem != "":
			name = c.stem
		default:
			name = "node"
		}
		if c.id != "" && name != c.id {
			n.add(nd.source, nd.nameLine, fmt.Sprintf("router_id %s is also another file's; the node is named %q after its path", c.id, name))
		}
		if used[name] {
			orig := name
			for i := 2; used[name]; i++ {
				name = fmt.Sprintf("%s-%d", orig, i)
			}
			n.add(nd.source, nd.nameLine, fmt.Sprintf("node name %q is also another file's; this one is %q (set router_id to tell them apart)", orig, name))
		}
		used[name] = true
		nd.name = name
	}
}

// safeName keeps the characters vipd allows in names (letters, digits, '-',
// '_', '.'), which are also safe in file names, and replaces others with
// '-'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), ".")
	return out
}

// compareNodes checks the virtual routers that several nodes share: they
// must agree on what keepalived and vipd compare in every advert, and
// state MASTER only says who starts as master.
func compareNodes(nodes []*node, n *notes) {
	if len(nodes) < 2 {
		return
	}
	type key struct {
		vrid int
		ipv6 bool
	}
	type member struct {
		node *node
		inst *vInstance
	}
	groups := make(map[key][]member)
	var keys []key
	for _, nd := range nodes {
		for _, in := range nd.instances {
			k := key{in.vrid, in.ipv6}
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], member{nd, in})
		}
	}
	var sets [][]member
	for _, k := range keys {
		ms := groups[k]
		perNode := make(map[*node]int)
		split := false
		for _, m := range ms {
			perNode[m.node]++
			split = split || perNode[m.node] > 1
		}
		if !split {
			sets = append(sets, ms)
			continue
		}
		// A node uses the VRID on several interfaces: the routers
		// of one virtual router are those on the same interface.
		byIf := make(map[string][]member)
		var ifs []string
		for _, m := range ms {
			if _, ok := byIf[m.inst.iface]; !ok {
				ifs = append(ifs, m.inst.iface)
			}
			byIf[m.inst.iface] = append(byIf[m.inst.iface], m)
		}
		for _, i := range ifs {
			sets = append(sets, byIf[i])
		}
	}
	for _, ms := range sets {
		first := ms[0]
		k := key{first.inst.vrid, first.inst.ipv6}
		if len(ms) == 1 {
			if len(nodes) > 1 {
				n.at(first.inst.at, "vrrp_instance %s (vrid %d, %s) is in this file only: its node has no peer among the files given",
					first.inst.kaName, k.vrid, family(k.ipv6))
			}
			continue
		}
		for _, m := range ms[1:] {
			in, ref := m.inst, first.inst
			where := fmt.Sprintf("%s (%s:%d)", first.node.name, ref.at.file, ref.at.line)
			if !sameVIPs(in.vips, ref.vips) {
				n.at(in.at, "vrrp_instance %s: its VIPs differ from those of %s: the routers of a VRID must advertise the same addresses (vipd drops adverts whose address list differs from its own)", in.kaName, where)
			}
			if in.version != ref.version {
				n.at(in.at, "vrrp_instance %s: VRRP version %d differs from %d on %s: the routers of a VRID must speak one version", in.kaName, in.version, ref.version, where)
			}
			if in.advert != ref.advert {
				n.at(in.at, "vrrp_instance %s: advert interval %s differs from %s on %s: the routers of a VRID must use one interval", in.kaName, in.advert, ref.advert, where)
			}
			if in.auth != ref.auth {
				n.at(in.at, "vrrp_instance %s: the password (auth_pass) differs from that of %s: VRRPv2 routers drop each other's adverts", in.kaName, where)
			}
		}
		best := slices.MaxFunc(ms, func(a, b member) int { return cmp.Compare(a.inst.priority, b.inst.priority) })
		for _, m := range ms {
			in := m.inst
			if in.stateAt == nil || in.state != "MASTER" || in.priority >= best.inst.priority {
				continue
			}
			n.at(in.stateAt, "vrrp_instance %s: state MASTER with priority %d: the highest priority wins in vipd (and in keepalived once the routers hear each other): %s has %d",
				in.kaName, in.priority, best.node.name, best.inst.priority)
		}
		for _, m := range ms {
			in := m.inst
			if len(in.peers) == 0 {
				continue
			}
			for _, o := range ms {
				src := o.inst.unicastSource
				if o.node == m.node || !src.IsValid() || slices.Contains(in.peers, src) {
					continue
				}
				n.at(in.peersAt, "vrrp_instance %s: unicast_peer does not list %s, the unicast_src_ip of %s: vipd accepts adverts only from listed peers",
					in.kaName, src, o.node.name)
			}
		}
	}
}

func sameVIPs(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.ContainsFunc(b, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			return false
		}
	}
	return true
}

func family(ipv6 bool) string {
	if ipv6 {
		return "IPv6"
	}
	return "IPv4"
}
