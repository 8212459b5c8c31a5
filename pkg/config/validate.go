package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of the values an instance accepts.
const (
	minAdvertV3     = 10 * time.Millisecond        // RFC 9568: centiseconds, at least 1
	maxAdvertV3     = 4095 * 10 * time.Millisecond // 12-bit field
	minAdvertV2     = time.Second                  // RFC 3768: whole seconds, 8-bit field
	maxAdvertV2     = 255 * time.Second
	maxPreemptDelay = time.Hour
	maxAuthPassword = 8 // RFC 3768 simple text password
	maxGARPRepeat   = 100
	minGARPRefresh  = time.Second
	maxGARPDelay    = time.Hour
	maxIfNameLen    = 15 // IFNAMSIZ less the terminating NUL
	maxSocketPath   = 107
)

// validate turns the decoded file into a Config, recording every problem.
func (p *parser) validate(d *decoded) *Config {
	c := &Config{Daemon: p.daemon(d.daemon)}
	clusterOK := true
	if d.cluster != nil {
		before := len(p.errs)
		c.Cluster = p.cluster(d.cluster, d.nodes)
		clusterOK = len(p.errs) == before
	}
	c.Checks = p.checks(d.checks)
	bgpOK := true
	if d.bgp != nil {
		before := len(p.errs)
		c.BGP = p.bgp(d.bgp, d.peers, c.Cluster)
		bgpOK = len(p.errs) == before
	}
	// Every check with a name can be tracked, also one with problems of
	// its own: an instance tracking it is not wrong for that.
	var checkNames []string
	for _, rc := range d.checks {
		if rc.Name != "" && !slices.Contains(checkNames, rc.Name) {
			checkNames = append(checkNames, rc.Name)
		}
	}
	if len(d.instances) == 0 {
		p.errorf("", "no [[instance]]: the file must define at least one virtual router")
	}
	valid := true
	for i, ri := range d.instances {
		inst, ok := p.instance(ri, i, c.Cluster, clusterOK, checkNames)
		c.Instances = append(c.Instances, inst)
		valid = valid && ok
	}
	if valid {
		p.instancesTogether(d.instances, c.Instances)
		p.announced(d.instances, c.Instances, c.BGP, bgpOK)
	}
	return c
}

// cluster validates [cluster] and its nodes.
func (p *parser) cluster(rc *rawCluster, rns []rawNode) *Cluster {
	cl := &Cluster{Name: rc.Name}
	if rc.Interface != nil {
		if err := checkIfName(*rc.Interface); err != nil {
			p.errorf("cluster.interface", "[cluster]: interface %q %v", *rc.Interface, err)
		}
		cl.Interface = *rc.Interface
	}
	if rc.AdvertInterval != nil {
		// Checked by each instance that uses it, against its version.
		cl.AdvertInterval = time.Duration(*rc.AdvertInterval)
	}
	switch {
	case len(rns) == 0:
		p.errorf("cluster", "[cluster] has no [[cluster.node]]; list the nodes in order of preference")
	case len(rns) > MaxNodes:
		p.errorf("cluster.node[25]", "[cluster] has %d nodes; at most %d are supported (priorities %d, %d, ... %d)",
			len(rns), MaxNodes, FirstPriority, FirstPriority-PriorityStep, FirstPriority-PriorityStep*(MaxNodes-1))
	}

	names := make(map[string]int) // node name → index of its first node
	addrs := make(map[netip.Addr]string)
	for i, rn := range rns {
		path := fmt.Sprintf("cluster.node[%d]", i)
		label := nodeLabel(rn.Name, i)
		n := Node{Name: rn.Name}
		first, dup := names[rn.Name]
		switch {
		case rn.Name == "":
			p.errorf(path, "%s: name is required", label)
		case dup:
			p.errorf(path+".name", "%s: name %q is already used by the node on line %d",
				label, rn.Name, p.lines.line(fmt.Sprintf("cluster.node[%d]", first)))
		default:
			if err := checkName(rn.Name); err != nil {
				p.errorf(path+".name", "%s: name %v", label, err)
			}
			names[rn.Name] = i
		}
		if rn.Address == nil && rn.Address6 == nil {
			p.errorf(path, "%s: set address (IPv4), address6 (IPv6) or both", label)
		}
		for _, f := range []struct {
			key, other string
			raw        *string
			v6         bool
			dst        *netip.Addr
		}{
			{"address", "address6", rn.Address, false, &n.Address},
			{"address6", "address", rn.Address6, true, &n.Address6},
		} {
			if f.raw == nil {
				continue
			}
			kpath := path + "." + f.key
			a, err := parseHostAddr(*f.raw)
			switch {
			case err != nil:
				p.errorf(kpath, "%s: %s %q %v", label, f.key, *f.raw, err)
			case a.Is6() != f.v6:
				p.errorf(kpath, "%s: %s %s is not an %s address; put it in %s", label, f.key, a, family(f.v6), f.other)
			case a.IsLinkLocalUnicast():
				p.errorf(kpath, "%s: %s %s is link-local, which does not identify a host; use a global or unique local address", label, f.key, a)
			case addrs[a] != "":
				p.errorf(kpath, "%s: %s %s is also the address of %s", label, f.key, a, addrs[a])
			default:
				addrs[a] = nodeLabel(rn.Name, i)
				*f.dst = a
			}
		}
		if !dup {
			cl.Nodes = append(cl.Nodes, n)
		}
	}
	return cl
}

// daemon validates [daemon] and fills in its defaults.
func (p *parser) daemon(rd rawDaemon) Daemon {
	d := Daemon{ControlSocket: DefaultControlSocket, MetricsListen: DefaultMetricsListen, LogLevel: DefaultLogLevel, StateDir: DefaultStateDir}
	if rd.ControlSocket != nil {
		d.ControlSocket = *rd.ControlSocket
		switch s := d.ControlSocket; {
		case !strings.HasPrefix(s, "/"):
			p.errorf("daemon.control_socket", "[daemon]: control_socket %q must be an absolute path", s)
		case len(s) > maxSocketPath:
			p.errorf("daemon.control_socket", "[daemon]: control_socket is %d bytes long; a unix socket path has at most %d", len(s), maxSocketPath)
		}
	}
	if rd.MetricsListen != nil {
		d.MetricsListen = *rd.MetricsListen
		if err := checkListen(d.MetricsListen); err != nil {
			p.errorf("daemon.metrics_listen", "[daemon]: metrics_listen %q %v", d.MetricsListen, err)
		}
	}
	if rd.StateDir != nil {
		d.StateDir = *rd.StateDir
		if !strings.HasPrefix(d.StateDir, "/") {
			p.errorf("daemon.state_dir", "[daemon]: state_dir %q must be an absolute path", d.StateDir)
		}
	}
	if rd.LogLevel != nil {
		d.LogLevel = *rd.LogLevel
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, d.LogLevel) {
			p.errorf("daemon.log_level", "[daemon]: log_level %q is not one of debug, info, warn, error", d.LogLevel)
		}
	}
	return d
}

// checkListen checks a host:port to listen on; "" disables the listener.
func checkListen(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("is not host:port (such as %q), or \"\" to disable", DefaultMetricsListen)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("has port %q; want 1..65535", port)
	}
	return nil
}

// label names the instance in error messages.
func (ri rawInstance) label(i int) string {
	var vrid int64
	if ri.VRID != nil {
		vrid = *ri.VRID
	}
	return instanceLabel(ri.Name, vrid, i)
}

// instanceLabel names an instance by its name, else its place in the file
// (counted from 1), and adds its VRID when valid.
func instanceLabel(name string, vrid int64, i int) string {
	s := fmt.Sprintf("instance #%d", i+1)
	if name != "" {
		s = fmt.Sprintf("instance %q", name)
	}
	if vrid >= 1 && vrid <= 255 {
		s += fmt.Sprintf(" (vrid %d)", vrid)
	}
	return s
}

// checkLabel names a check in error messages.
func checkLabel(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("check #%d", i+1)
	}
	return fmt.Sprintf("check %q", name)
}

// nodeLabel names a node in error messages.
func nodeLabel(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("node #%d", i+1)
	}
	return fmt.Sprintf("node %q", name)
}

func family(is6 bool) string {
	if is6 {
		return "IPv6"
	}
	return "IPv4"
}
