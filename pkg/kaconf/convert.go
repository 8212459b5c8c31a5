package kaconf

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vipd/vipd/pkg/config"
)

// ErrNothingToConvert is returned when a file yields no virtual router:
// it has no vrrp_instance, or none that vipd can run.
var ErrNothingToConvert = errors.New("kaconf: nothing to convert")

// ErrRefused marks files the converter refuses: keepalived 2.2.7 itself
// would not run them (it stops at a missing parameter, an instance
// without virtual_router_id, unicast peers in strict mode, ...), or how
// keepalived reads them depends on something the converter was not told
// (the config id of conditional lines).
var ErrRefused = errors.New("kaconf: refused")

// A RefusalError is an ErrRefused at a place in a file.
type RefusalError struct {
	File string
	Line int
	Msg  string
}

func (e *RefusalError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusalError) Unwrap() error { return ErrRefused }

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
	// [cluster]) and passes config.Parse. It holds every converted
	// instance, also those whose verdict is not safe.
	TOML []byte
}

// A Verdict says whether a vrrp_instance converts into a vipd instance
// that, next to keepalived nodes running the original file, advertises,
// elects and fails over as keepalived does: safe for a mixed fleet.
type Verdict struct {
	File string // where the vrrp_instance is
	Line int
	Node string // the node's name
	// Instance is the vrrp_instance's name; the vipd instance's is
	// InstanceName.
	Instance     string
	InstanceName string
	// Converted: the instance is in the node's TOML. An instance that
	// vipd cannot run as keepalived does is left out.
	Converted bool
	Safe      bool
	// Reasons say why the verdict is not safe, each at the place of the
	// file that causes it.
	Reasons []Note
}

// String formats the verdict and its reasons, one a line.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: vrrp_instance %s of node %s: ", v.File, v.Line, v.Instance, v.Node)
	switch {
	case v.Safe:
		b.WriteString("safe for a mixed fleet")
	case v.Converted:
		b.WriteString("NOT SAFE for a mixed fleet (converted):")
	default:
		b.WriteString("NOT SAFE for a mixed fleet (not converted):")
	}
	for _, r := range v.Reasons {
		b.WriteString("\n\t" + r.String())
	}
	return b.String()
}

// Result is what Convert made.
type Result struct {
	// Nodes are the converted files, in the order given.
	Nodes []Node
	// Notes are everything not carried over, by file (in the order read)
	// and line.
	Notes []Note
	// Verdicts are those of every vrrp_instance keepalived runs, by node
	// and line.
	Verdicts []Verdict
}

// Safe reports whether every instance is safe for a mixed fleet.
func (r Result) Safe() bool {
	for _, v := range r.Verdicts {
		if !v.Safe {
			return false
		}
	}
	return true
}

// Options are how keepalived is run on the nodes, for what depends on it.
type Options struct {
	// ConfigID is keepalived's config id (its -i option; by default the
	// host name up to the first dot), which selects the conditional
	// lines "@ID ..." and "@^ID ...". Without it, a file with such lines
	// is refused.
	ConfigID string
	// ConfigIDs sets the config id of some files (by the name given to
	// Convert), overriding ConfigID.
	ConfigIDs map[string]string
	// Root is where a copy of the nodes' file systems is: an include of
	// an absolute path is read under it.
	Root string
}

// Convert converts keepalived configurations, one file per node, each with
// the files it includes, into vipd configurations, with no options.
func Convert(files []string) (Result, error) {
	return ConvertOptions(files, Options{})
}

// ConvertOptions converts keepalived configurations, one file per node,
// each with the files it includes, into vipd configurations.
//
// Each file is read as keepalived 2.2.7 reads it, defaults and fallbacks
// for invalid values included. Each node gets a file of its own, without
// [cluster], as keepalived.conf is: a [cluster] derives the priorities
// from the order of the nodes (250, 240, ...), while keepalived's are
// whatever the operator chose (often 101 and 100), and during a rolling
// migration, vipd and keepalived nodes that share a virtual router must
// keep exactly those. Every vrrp_instance gets a Verdict. Given several
// files, ConvertOptions also checks that they describe the same virtual
// routers consistently (the same VIPs, version, interval and password),
// and notes what keepalived does where they do not.
//
// On an error, Result holds the notes made so far. The error is a
// *SyntaxError (errors.Is ErrSyntax) for a file keepalived's syntax cannot
// read, a *RefusalError (ErrRefused) for a file keepalived would not run
// or that needs an option, wraps ErrNothingToConvert for a file without a
// convertible vrrp_instance, and otherwise reports a file that cannot be
// read.
func ConvertOptions(files []string, opts Options) (Result, error) {
	return convert(osLoader{}, files, opts)
}

func convert(load loader, files []string, opts Options) (Result, error) {
	n := &notes{}
	var nodes []*node
	for _, f := range files {
		n.file(f)
		id, idSet := opts.ConfigID, opts.ConfigID != ""
		if v, ok := opts.ConfigIDs[f]; ok {
			id, idSet = v, true
		}
		ps := parseSettings{root: opts.Root, configID: id, configIDSet: idSet}
		stmts, err := parseFile(load, f, ps, n)
		if err != nil {
			return Result{Notes: n.sorted()}, err
		}
		nd, err := convertFile(f, stmts, n)
		if err != nil {
			return Result{Notes: n.sorted()}, err
		}
		if !slices.ContainsFunc(nd.instances, func(in *vInstance) bool { return !in.refused }) {
			nameNodes([]*node{nd}, &notes{})
			return Result{Notes: n.sorted(), Verdicts: verdicts([]*node{nd})}, fmt.Errorf("%s: no vrrp_instance that vipd can run: %w", f, ErrNothingToConvert)
		}
		nodes = append(nodes, nd)
	}
	nameNodes(nodes, n)
	compareNodes(nodes, n)

	res := Result{Verdicts: verdicts(nodes)}
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

// verdicts lists the verdicts of the nodes' instances.
func verdicts(nodes []*node) []Verdict {
	var out []Verdict
	for _, nd := range nodes {
		for _, in := range nd.instances {
			out = append(out, Verdict{
				File: in.at.file, Line: in.at.line, Node: nd.name,
				Instance: in.kaName, InstanceName: in.name,
				Converted: !in.refused, Safe: len(in.reasons) == 0,
				Reasons: slices.Clone(in.reasons),
			})
		}
	}
	return out
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
// must agree on what keepalived and vipd compare in every advert; where
// they do not, it notes what keepalived does. Priorities may differ, and
// state MASTER only says who starts as master.
func compareNodes(nodes []*node, n *notes) {
	if len(nodes) < 2 {
		return
	}
	type key struct {
		vrid   int
		family int
	}
	type member struct {
		node *node
		inst *vInstance
	}
	groups := make(map[key][]member)
	var keys []key
	for _, nd := range nodes {
		for _, in := range nd.instances {
			k := key{in.vrid, in.family}
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
		if len(ms) == 1 {
			n.at(first.inst.at, "vrrp_instance %s (vrid %d, %s) is in this file only: its node has no peer among the files given",
				first.inst.kaName, first.inst.vrid, familyOf(first.inst.family))
			for _, nd := range nodes {
				for _, o := range nd.instances {
					if nd != first.node && o.kaName == first.inst.kaName && (o.vrid != first.inst.vrid || o.family != first.inst.family) {
						n.at(first.inst.at, "vrrp_instance %s has vrid %d (%s) here and vrid %d (%s) on %s: two virtual routers, each with a master of its own, keepalived and vipd alike",
							first.inst.kaName, first.inst.vrid, familyOf(first.inst.family), o.vrid, familyOf(o.family), nd.name)
					}
				}
			}
			continue
		}
		for _, m := range ms[1:] {
			in, ref := m.inst, first.inst
			where := fmt.Sprintf("%s (%s:%d)", first.node.name, ref.at.file, ref.at.line)
			if !sameAddrs(in.kaVIPs, ref.kaVIPs) {
				n.at(in.at, "vrrp_instance %s: its VIPs differ from those of %s: keepalived drops adverts whose address list differs from its own (\"expected N VIPs\", \"not present in MASTER advert\"), and so does vipd: both become master", in.kaName, where)
			}
			if in.unicast != ref.unicast {
				n.at(in.at, "vrrp_instance %s: it sends adverts by %s, %s by %s: keepalived drops them (\"Expected %s packet\"), and so does vipd: both become master", in.kaName, castOf(in.unicast), where, castOf(ref.unicast), castOf(in.unicast))
			}
			switch {
			case in.version != ref.version:
				n.at(in.at, "vrrp_instance %s: VRRP version %d differs from %d on %s: keepalived drops the other's adverts (\"wrong version\"), and so does vipd: both become master", in.kaName, in.version, ref.version, where)
			case in.advert != ref.advert && in.version == 2:
				n.at(in.at, "vrrp_instance %s: advert interval %s differs from %s on %s: VRRPv2 routers drop the other's adverts (\"advertisement interval mismatch\"), keepalived and vipd alike: both become master", in.kaName, in.advert, ref.advert, where)
			case in.advert != ref.advert:
				n.at(in.at, "vrrp_instance %s: advert interval %s differs from %s on %s: VRRPv3 routers accept it (a backup times the master by the master's interval), keepalived and vipd alike", in.kaName, in.advert, ref.advert, where)
			}
			if in.version == 2 && ref.version == 2 && (in.authType != ref.authType || in.authType == "PASS" && in.authPass != ref.authPass) {
				n.at(in.at, "vrrp_instance %s: the authentication (auth_type, auth_pass) differs from that of %s: VRRPv2 routers drop the other's adverts (\"received an invalid passwd\"), keepalived and vipd alike: both become master", in.kaName, where)
			}
		}
		best := slices.MaxFunc(ms, func(a, b member) int { return cmp.Compare(a.inst.basePriority, b.inst.basePriority) })
		for _, m := range ms {
			in := m.inst
			if in.stateAt == nil || in.state != "MASTER" || in.basePriority >= best.inst.basePriority {
				continue
			}
			n.at(in.stateAt, "vrrp_instance %s: state MASTER with priority %d: the highest priority wins in vipd (and in keepalived once the routers hear each other): %s has %d",
				in.kaName, in.basePriority, best.node.name, best.inst.basePriority)
		}
		for _, m := range ms {
			in := m.inst
			if !in.unicast {
				continue
			}
			for _, o := range ms {
				src := o.inst.src
				if o.node == m.node || !o.inst.unicast || !src.IsValid() || slices.Contains(in.kaPeers, src) {
					continue
				}
				if in.checkSrc {
					n.at(in.peersAt, "vrrp_instance %s: unicast_peer does not list %s, the unicast_src_ip of %s: keepalived drops its adverts (\"not a unicast peer\"), and so does vipd",
						in.kaName, src, o.node.name)
					continue
				}
				msg := fmt.Sprintf("unicast_peer does not list %s, the unicast_src_ip of %s: keepalived accepts its adverts (it checks the source only with check_unicast_src), vipd drops them: a vipd node here would become master beside it", src, o.node.name)
				n.at(in.peersAt, "vrrp_instance %s: %s", in.kaName, msg)
				in.reasons = append(in.reasons, Note{File: in.peersAt.file, Line: in.peersAt.line, Msg: msg})
			}
		}
	}
}

// sameAddrs reports whether two instances advertise the same addresses,
// as keepalived compares them: as many, and each of one in the other.
func sameAddrs(a, b []kaVIP) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.ContainsFunc(b, func(q kaVIP) bool { return q.addr == p.addr }) {
			return false
		}
	}
	return true
}

func castOf(unicast bool) string {
	if unicast {
		return "unicast"
	}
	return "multicast"
}

func family(ipv6 bool) string {
	if ipv6 {
		return "IPv6"
	}
	return "IPv4"
}
