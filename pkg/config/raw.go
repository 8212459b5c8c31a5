package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// The raw structs mirror the file, one per table. Optional values are
// pointers so that validation can tell "not written" from a zero value, and
// integers are int64 so that validation, not the decoder, reports a value out
// of range. Arrays of tables are decoded one element at a time (as
// toml.Primitive) so that a decoding error can name the element.

// rawFile is the top level of the file.
type rawFile struct {
	Cluster  toml.Primitive   `toml:"cluster"`
	Daemon   toml.Primitive   `toml:"daemon"`
	Check    []toml.Primitive `toml:"check"`
	Instance []toml.Primitive `toml:"instance"`
	BGP      toml.Primitive   `toml:"bgp"`
}

// rawBGP is the [bgp] table.
type rawBGP struct {
	ASN        *int64           `toml:"asn"`
	RouterID   *string          `toml:"router_id"`
	HoldTime   *duration        `toml:"hold_time"`
	Preference *string          `toml:"preference"`
	Peer       []toml.Primitive `toml:"peer"`
}

// rawPeer is one [[bgp.peer]].
type rawPeer struct {
	Address      *string `toml:"address"`
	ASN          *int64  `toml:"asn"`
	Port         *int64  `toml:"port"`
	PasswordFile *string `toml:"password_file"`
	Multihop     *int64  `toml:"multihop"`
	BFD          *bool   `toml:"bfd"`
	Source       *string `toml:"source"`
}

// rawCluster is the [cluster] table.
type rawCluster struct {
	Name           string           `toml:"name"`
	Interface      *string          `toml:"interface"`
	AdvertInterval *duration        `toml:"advert_interval"`
	Node           []toml.Primitive `toml:"node"`
}

// rawNode is one [[cluster.node]].
type rawNode struct {
	Name     string  `toml:"name"`
	Address  *string `toml:"address"`
	Address6 *string `toml:"address6"`
}

// rawDaemon is the [daemon] table.
type rawDaemon struct {
	ControlSocket *string `toml:"control_socket"`
	MetricsListen *string `toml:"metrics_listen"`
	LogLevel      *string `toml:"log_level"`
	StateDir      *string `toml:"state_dir"`
}

// rawInstance is one [[instance]].
type rawInstance struct {
	Name            string     `toml:"name"`
	VRID            *int64     `toml:"vrid"`
	Interface       *string    `toml:"interface"`
	Version         *int64     `toml:"version"`
	AdvertInterval  *duration  `toml:"advert_interval"`
	VIPs            []string   `toml:"vips"`
	Priority        *int64     `toml:"priority"`
	Order           []string   `toml:"order"`
	Preempt         *bool      `toml:"preempt"`
	PreemptDelay    *duration  `toml:"preempt_delay"`
	Unicast         *bool      `toml:"unicast"`
	UnicastPeers    []string   `toml:"unicast_peers"`
	UnicastSource   *string    `toml:"unicast_source"`
	AuthPassword    *string    `toml:"auth_password"`
	GARPRepeat      *int64     `toml:"garp_repeat"`
	GARPRefresh     *duration  `toml:"garp_refresh"`
	GARPDelay       *duration  `toml:"garp_delay"`
	Track           []rawTrack `toml:"track"`
	TrackInterfaces []string   `toml:"track_interfaces"`
	SyncGroup       *string    `toml:"sync_group"`
	Notify          []string   `toml:"notify"`
	Announce        *string    `toml:"announce"`
	ECMP            *bool      `toml:"ecmp"`
	WithdrawDelay   *duration  `toml:"withdraw_delay"`
	RouteTable      *int64     `toml:"route_table"`
	RouteProtocol   *int64     `toml:"route_protocol"`
}

// rawTrack is one element of an instance's track list, usually an inline
// table such as { check = "haproxy", weight = -30 }.
type rawTrack struct {
	Check  string `toml:"check"`
	Weight int64  `toml:"weight"`
}

// rawCheck is one [[check]]. Strings and booleans need no pointers: their
// zero value means "not set" to health.Spec as well. The other optional
// values are pointers so that an explicit zero (rise = 0) is reported
// rather than replaced by the default.
type rawCheck struct {
	Name               string    `toml:"name"`
	Type               string    `toml:"type"`
	URL                string    `toml:"url"`
	CAFile             string    `toml:"ca_file"`
	ServerName         string    `toml:"server_name"`
	CertFile           string    `toml:"cert_file"`
	KeyFile            string    `toml:"key_file"`
	InsecureSkipVerify bool      `toml:"insecure_skip_verify"`
	ExpectStatus       *[]int64  `toml:"expect_status"`
	Address            string    `toml:"address"`
	Command            []string  `toml:"command"`
	Interval           *duration `toml:"interval"`
	Timeout            *duration `toml:"timeout"`
	Rise               *int64    `toml:"rise"`
	Fall               *int64    `toml:"fall"`
	WatchConnection    *bool     `toml:"watch_connection"`
	Process            string    `toml:"process"`
	FullCommand        bool      `toml:"full_command"`
	Params             []string  `toml:"params"`
	ParamMatch         string    `toml:"param_match"`
	PIDFile            string    `toml:"pid_file"`
	Quorum             *int64    `toml:"quorum"`
	QuorumMax          *int64    `toml:"quorum_max"`
}

// duration is a time.Duration written as a string such as "1s" or "100ms".
type duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration; write a string with a unit, such as \"1s\" or \"100ms\"", text)
	}
	*d = duration(v)
	return nil
}

// tableKeys returns the keys a table (named without element indexes, "" for
// the top level) may contain, and whether the table is known at all.
func tableKeys(table string) ([]string, bool) {
	keys, ok := knownKeys()[table]
	return keys, ok
}

// knownKeys maps each table to its keys, read once from the raw types'
// tags: a file of hundreds of instances asks for each of their keys.
var knownKeys = sync.OnceValue(func() map[string][]string {
	m := make(map[string][]string)
	for table, v := range map[string]any{
		"":               rawFile{},
		"cluster":        rawCluster{},
		"cluster.node":   rawNode{},
		"daemon":         rawDaemon{},
		"check":          rawCheck{},
		"instance":       rawInstance{},
		"instance.track": rawTrack{},
		"bgp":            rawBGP{},
		"bgp.peer":       rawPeer{},
	} {
		t := reflect.TypeOf(v)
		keys := make([]string, 0, t.NumField())
		for f := range t.Fields() {
			keys = append(keys, f.Tag.Get("toml"))
		}
		m[table] = keys
	}
	return m
})

// tableName spells a table the way it is written in the file.
func tableName(table string) string {
	switch table {
	case "cluster.node", "check", "instance", "instance.track", "bgp.peer":
		return "[[" + table + "]]"
	}
	return "[" + table + "]"
}

// decoded is the file after decoding, before validation.
type decoded struct {
	md        toml.MetaData
	cluster   *rawCluster // nil without [cluster]
	nodes     []rawNode
	daemon    rawDaemon
	checks    []rawCheck
	instances []rawInstance
	bgp       *rawBGP // nil without [bgp]
	peers     []rawPeer
}

// decode decodes data into the raw structs. It reports syntax errors,
// values of the wrong type and unknown keys, each as problems of p.
func (p *parser) decode(data []byte) (*decoded, bool) {
	var rf rawFile
	md, err := toml.Decode(string(data), &rf)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// The library's line is one too far when the error is at a
			// newline; its byte offset is right.
			line := pe.Position.Line
			if start := pe.Position.Start; start >= 0 && start <= len(data) {
				line = 1 + bytes.Count(data[:start], []byte("\n"))
			}
			p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: pe.Message})
			return nil, false
		}
		// A top-level key of the wrong type, such as instance = 1.
		p.lines = indexLines(string(data))
		p.decodeError(err, "", "", "")
		return nil, false
	}
	p.lines = indexLines(string(data))
	d := &decoded{md: md}

	if md.IsDefined("cluster") {
		d.cluster = new(rawCluster)
		if err := md.PrimitiveDecode(rf.Cluster, d.cluster); err != nil {
			p.decodeError(err, "cluster", "cluster", "[cluster]")
		}
		d.nodes = make([]rawNode, len(d.cluster.Node))
		for i, prim := range d.cluster.Node {
			if err := md.PrimitiveDecode(prim, &d.nodes[i]); err != nil {
				path := fmt.Sprintf("cluster.node[%d]", i)
				p.decodeError(err, "cluster.node", path, nodeLabel(primitiveName(md, prim), i))
			}
		}
	}
	if err := md.PrimitiveDecode(rf.Daemon, &d.daemon); err != nil {
		p.decodeError(err, "daemon", "daemon", "[daemon]")
	}
	d.checks = make([]rawCheck, len(rf.Check))
	for i, prim := range rf.Check {
		if err := md.PrimitiveDecode(prim, &d.checks[i]); err != nil {
			path := fmt.Sprintf("check[%d]", i)
			p.decodeError(err, "check", path, checkLabel(primitiveName(md, prim), i))
		}
	}
	d.instances = make([]rawInstance, len(rf.Instance))
	for i, prim := range rf.Instance {
		if err := md.PrimitiveDecode(prim, &d.instances[i]); err != nil {
			path := fmt.Sprintf("instance[%d]", i)
			p.decodeError(err, "instance", path, primitiveInstanceLabel(md, prim, i))
		}
	}
	if md.IsDefined("bgp") {
		d.bgp = new(rawBGP)
		if err := md.PrimitiveDecode(rf.BGP, d.bgp); err != nil {
			p.decodeError(err, "bgp", "bgp", "[bgp]")
		}
		d.peers = make([]rawPeer, len(d.bgp.Peer))
		for i, prim := range d.bgp.Peer {
			if err := md.PrimitiveDecode(prim, &d.peers[i]); err != nil {
				p.decodeError(err, "bgp.peer", fmt.Sprintf("bgp.peer[%d]", i), peerLabel(i))
			}
		}
	}
	if len(p.errs) > 0 {
		// A failed decode leaves later keys of its table unmarked, so
		// Undecoded would report them as unknown.
		return nil, false
	}
	p.unknownKeys(d)
	return d, len(p.errs) == 0
}

// BurntSushi/toml reports a value of the wrong type as a plain string, with
// the key (libraryError) and Go type names (typeMismatch, tableMismatch).
// These pick it apart to say the same in the file's terms; a message they
// do not match is passed on as it is.
var (
	libraryError  = regexp.MustCompile(`^toml: (?:line \d+ )?\(last key "([^"]*)"\): (.*)$`)
	typeMismatch  = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	tableMismatch = regexp.MustCompile(`^type mismatch for .+: expected table but found (.+)$`)
)

// decodeError records err, returned while decoding the table plain (without
// element indexes) found at path. label names the table in the message.
func (p *parser) decodeError(err error, plain, path, label string) {
	var key, msg string
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key, msg = pe.LastKey, pe.Message
	} else if m := libraryError.FindStringSubmatch(err.Error()); m != nil {
		key, msg = m[1], m[2]
	} else {
		msg = strings.TrimPrefix(err.Error(), "toml: ")
	}
	var want, got string
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		want, got = typeWord(m[2]), typeWord(m[1])
	} else if m := tableMismatch.FindStringSubmatch(msg); m != nil {
		want, got = "a table", typeWord(m[1])
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(key, plain), ".")
	switch {
	case want == "an array" && got == "a table":
		msg = fmt.Sprintf("write [[%s]], not [%s]", key, key)
	case want == "a table" && got == "an array of tables":
		msg = fmt.Sprintf("write [%s], not [[%s]]", key, key)
	default:
		if want != "" {
			msg = fmt.Sprintf("expected %s, found %s", want, got)
		}
		if rel != "" {
			msg = rel + ": " + msg
		}
		if label != "" {
			msg = label + ": " + msg
		}
	}
	line := 0
	if p.lines != nil {
		line = p.lines.line(join(path, rel))
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: msg})
}

// typeWord turns the library's type names (Go types for TOML values,
// kinds for destinations) into words.
func typeWord(t string) string {
	switch t {
	case "int64", "integer":
		return "an integer"
	case "float64", "float":
		return "a float"
	case "string", "primitive (string-like)":
		return "a string"
	case "bool", "boolean":
		return "a boolean"
	case "[]any", "slice":
		return "an array"
	case "map[string]any", "map":
		return "a table"
	case "[]map[string]any":
		return "an array of tables"
	case "time.Time", "toml.LocalDate", "toml.LocalTime", "toml.LocalDatetime":
		return "a date or time"
	}
	return t
}

// unknownKeys records every key the raw structs do not define. Keys the
// decoder matched only by ignoring case (VRID for vrid) count as unknown
// too: TOML keys are case-sensitive and the file should spell them once.
func (p *parser) unknownKeys(d *decoded) {
	md := d.md
	undecoded := make(map[string]int)
	for _, k := range md.Undecoded() {
		undecoded[k.String()]++
	}
	seen := make(map[string]int) // plain key → occurrences so far
	bad := make(map[string]bool) // plain keys reported, to skip their children
	for _, k := range md.Keys() {
		plain := strings.Join(k, ".")
		n := seen[plain]
		seen[plain]++
		parent := strings.Join(k[:len(k)-1], ".")
		if bad[parent] {
			bad[plain] = true
			continue
		}
		name := k[len(k)-1]
		known, ok := tableKeys(parent)
		if undecoded[k.String()] == 0 && (!ok || slices.Contains(known, name)) {
			continue
		}
		bad[plain] = true

		path, line := plain, 0
		if e, ok := p.lines.occurrence(plain, n); ok {
			path, line = e.path, e.line
		} else if e, ok := p.lines.enclosing(k, seen); ok {
			// Inside an inline table, such as an element of track.
			path, line = join(e.path, strings.Join(k[len(strings.Split(e.plain, ".")):], ".")), e.line
		}
		what := fmt.Sprintf("unknown key %q", name)
		switch md.Type(k...) {
		case "Hash":
			what = "unknown table " + tableName(plain)
		case "ArrayHash":
			what = "unknown table [[" + plain + "]]"
		}
		var msg string
		switch s := suggest(name, known); {
		case !ok:
			msg = what
		case s != "":
			msg = fmt.Sprintf("%s; did you mean %q?", what, s)
		case parent == "":
			msg = fmt.Sprintf("%s; known tables: [cluster], [daemon], [[check]], [[instance]], [bgp]", what)
		default:
			msg = fmt.Sprintf("%s; known keys: %s", what, strings.Join(known, ", "))
		}
		if ok && parent != "" {
			msg = d.labelAt(parent, path) + ": " + msg
		}
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: msg})
	}
}

// labelAt names the table element that holds the key at path: a node,
// check or instance, followed by the table inside it, if any ("instance
// "api" (vrid 51): track").
func (d *decoded) labelAt(table, path string) string {
	for _, array := range []string{"cluster.node", "check", "instance", "bgp.peer"} {
		sub, inside := strings.CutPrefix(table, array+".")
		if table != array && !inside {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(strings.TrimPrefix(path, array), "[%d]", &i); err != nil {
			break
		}
		var label string
		switch {
		case array == "cluster.node" && i < len(d.nodes):
			label = nodeLabel(d.nodes[i].Name, i)
		case array == "check" && i < len(d.checks):
			label = checkLabel(d.checks[i].Name, i)
		case array == "instance" && i < len(d.instances):
			label = d.instances[i].label(i)
		case array == "bgp.peer" && i < len(d.peers):
			label = peerLabel(i)
		default:
			return tableName(table)
		}
		if inside {
			label += ": " + sub
		}
		return label
	}
	return tableName(table)
}

// primitiveName returns the name key of an undecoded table, if it is a string.
func primitiveName(md toml.MetaData, prim toml.Primitive) string {
	m := primitiveMap(md, prim)
	s, _ := m["name"].(string)
	return s
}

// primitiveInstanceLabel names an [[instance]] that may not have decoded.
func primitiveInstanceLabel(md toml.MetaData, prim toml.Primitive, i int) string {
	m := primitiveMap(md, prim)
	name, _ := m["name"].(string)
	vrid, _ := m["vrid"].(int64)
	return instanceLabel(name, vrid, i)
}

// primitiveMap decodes a table generically, for labels in error messages. A
// table always decodes into a map; anything else yields nil.
func primitiveMap(md toml.MetaData, prim toml.Primitive) map[string]any {
	var m map[string]any
	if err := md.PrimitiveDecode(prim, &m); err != nil {
		return nil
	}
	return m
}

// suggest returns the known key that name is most likely a misspelling of:
// the same but for case, or else within two edits. It returns "" when none
// is close.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
