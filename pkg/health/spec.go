package health

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/procgroup"
)

// Types of check.
const (
	TypeHTTP  = "http"
	TypeHTTPS = "https"
	TypeTCP   = "tcp"
	TypeExec  = "exec"
	// TypeProcess counts running processes (see processChecker).
	TypeProcess = "process"
)

// Limits and defaults of a Spec.
const (
	// MinInterval is the shortest interval of http, https and tcp checks:
	// shorter ones would load the probed server for no faster failover
	// than the VRRP timers allow.
	MinInterval = 50 * time.Millisecond
	// MinExecInterval is the shortest interval of exec checks, which start
	// a process per probe.
	MinExecInterval = time.Second

	// DefaultInterval is the interval of http, https and tcp checks that
	// set none.
	DefaultInterval = time.Second
	// DefaultExecInterval is the interval of exec checks that set none:
	// longer than DefaultInterval because scripts often run tools (curl,
	// kubectl) that need more than the 750ms a 1s interval would leave them.
	DefaultExecInterval = 2 * time.Second
	// MaxDefaultTimeout caps the default timeout, which is otherwise three
	// quarters of the interval.
	MaxDefaultTimeout = 10 * time.Second

	// DefaultRise and DefaultFall are the consecutive successes and
	// failures that change the state of a check that sets none: one
	// probe is never enough, so a single lost packet or slow answer does
	// not move the VIP.
	DefaultRise = 2
	DefaultFall = 2
	// MaxRiseFall bounds Rise and Fall.
	MaxRiseFall = 100

	// MaxOutput caps the output kept of a probe (HTTP body, exec stdout
	// and stderr).
	MaxOutput = procgroup.MaxOutput
)

// DefaultExpectStatus is the status an http or https check that sets none
// expects. It is a function so that no caller can change it.
func DefaultExpectStatus() []int { return []int{200} }

// A Spec describes one check. The zero values of Interval, Timeout, Rise,
// Fall and ExpectStatus mean "default"; see WithDefaults.
type Spec struct {
	Name string // unique among checks; "link:" names are reserved
	Type string // TypeHTTP, TypeHTTPS, TypeTCP, TypeExec or TypeProcess

	// http and https.
	URL                string
	CAFile             string // PEM bundle that verifies the server; empty means the system roots
	ServerName         string // name the server's certificate must hold; empty means the URL's host
	CertFile, KeyFile  string // client certificate, both or neither
	InsecureSkipVerify bool   // https without verifying the server
	ExpectStatus       []int  // accepted status codes

	// tcp.
	Address string // host:port

	// exec: the program (an absolute path) and its arguments, run without
	// a shell.
	Command []string

	// process: the processes counted are those whose name (the kernel's
	// comm, at most MaxCommLen characters) is Process or, with
	// FullCommand, whose argv[0] is Process and whose other arguments
	// pass ParamMatch against Params (ParamExact by default when Params
	// are given). With PIDFile the one process whose pid the file holds
	// is counted, if it runs (and, with Process, matches). The check
	// passes while Quorum to QuorumMax processes are counted (QuorumMax 0:
	// no upper bound).
	Process     string
	FullCommand bool
	Params      []string
	ParamMatch  string // "", ParamExact, ParamPartial or ParamInitial
	PIDFile     string
	Quorum      int
	QuorumMax   int

	// NoWatch, for tcp, http and https checks, keeps no idle connection
	// to the target: a target that exits is then seen at the next probe
	// rather than at once (see Monitor).
	NoWatch bool

	Interval time.Duration // between the starts of two probes
	Timeout  time.Duration // of one probe; shorter than Interval
	Rise     int           // consecutive successes to become Healthy
	Fall     int           // consecutive failures to become Unhealthy
}

// WithDefaults returns s with every unset field given its default:
// Interval DefaultInterval (DefaultExecInterval for exec checks), Timeout
// three quarters of the interval up to MaxDefaultTimeout, Rise DefaultRise,
// Fall DefaultFall and, for http and https checks, ExpectStatus
// DefaultExpectStatus.
func (s Spec) WithDefaults() Spec {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
		if s.Type == TypeExec {
			s.Interval = DefaultExecInterval
		}
	}
	if s.Timeout == 0 {
		s.Timeout = min(s.Interval*3/4, MaxDefaultTimeout)
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	if s.Type == TypeProcess {
		if s.Quorum == 0 {
			s.Quorum = 1
		}
		if s.ParamMatch == "" && len(s.Params) > 0 {
			s.ParamMatch = ParamExact
		}
	}
	if len(s.ExpectStatus) == 0 && (s.Type == TypeHTTP || s.Type == TypeHTTPS) {
		s.ExpectStatus = DefaultExpectStatus()
	}
	return s
}

// A SpecError is one problem Validate found in a Spec.
type SpecError struct {
	Check string // Spec.Name
	Key   string // the configuration key at fault: "url", "timeout", ...
	Msg   string // what is wrong and what is allowed
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("check %q: %s", e.Check, e.Msg)
}

// checkName is what a check may be called: short, printable, no spaces, so
// that it reads well in logs and vipctl status.
var checkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Validate reports every problem of s, each as a *SpecError; the error
// returned joins them (errors.Join), so a caller that maps keys to lines
// walks Unwrap() []error. It checks s as given: call WithDefaults first.
func (s Spec) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &SpecError{Check: s.Name, Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	switch {
	case s.Name == "":
		bad("name", "name is missing")
	case strings.HasPrefix(s.Name, LinkPrefix):
		bad("name", "name %q: the prefix %q is reserved for tracked interfaces", s.Name, LinkPrefix)
	case !checkName.MatchString(s.Name):
		bad("name", "name %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name)
	}

	httpish := s.Type == TypeHTTP || s.Type == TypeHTTPS
	minInterval := MinInterval
	switch s.Type {
	case TypeHTTP, TypeHTTPS:
		s.validateURL(bad)
	case TypeTCP:
		if s.Address == "" {
			bad("address", "address is missing; a tcp check connects to host:port")
		} else if err := checkAddress(s.Address); err != nil {
			bad("address", "address %q: %v", s.Address, err)
		}
	case TypeExec:
		minInterval = MinExecInterval
		switch {
		case len(s.Command) == 0 || s.Command[0] == "":
			bad("command", "command is missing; an exec check runs [program, args...]")
		case !filepath.IsAbs(s.Command[0]):
			bad("command", "program %q must be an absolute path (no shell and no PATH lookup are used)", s.Command[0])
		}
	case TypeProcess:
		s.validateProcess(bad)
	case "":
		bad("type", "type is missing; one of http, https, tcp, exec, process")
	default:
		bad("type", "unknown type %q; one of http, https, tcp, exec, process", s.Type)
	}

	// Keys of other types are mistakes: a ca_file on a tcp check would
	// otherwise be silently ignored.
	if !httpish && s.URL != "" {
		bad("url", "url applies only to http and https checks")
	}
	if s.Type != TypeHTTPS {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"ca_file", s.CAFile != ""},
			{"server_name", s.ServerName != ""},
			{"cert_file", s.CertFile != ""},
			{"key_file", s.KeyFile != ""},
			{"insecure_skip_verify", s.InsecureSkipVerify},
		} {
			if k.set {
				bad(k.key, "%s applies only to https checks", k.key)
			}
		}
	}
	if !httpish && len(s.ExpectStatus) > 0 {
		bad("expect_status", "expect_status applies only to http and https checks")
	}
	if s.Type != TypeTCP && s.Address != "" {
		bad("address", "address applies only to tcp checks")
	}
	if s.Type != TypeExec && len(s.Command) > 0 {
		bad("command", "command applies only to exec checks")
	}
	if (s.Type == TypeExec || s.Type == TypeProcess) && s.NoWatch {
		bad("watch_connection", "watch_connection applies only to tcp, http and https checks")
	}
	if s.Type != TypeProcess {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"process", s.Process != ""},
			{"full_command", s.FullCommand},
			{"params", len(s.Params) > 0},
			{"param_match", s.ParamMatch != ""},
			{"pid_file", s.PIDFile != ""},
			{"quorum", s.Quorum != 0},
			{"quorum_max", s.QuorumMax != 0},
		} {
			if k.set {
				bad(k.key, "%s applies only to process checks", k.key)
			}
		}
	}

	if s.Type == TypeHTTPS {
		if s.CAFile != "" && s.InsecureSkipVerify {
			bad("insecure_skip_verify", "insecure_skip_verify and ca_file exclude each other")
		}
		if s.ServerName != "" && s.InsecureSkipVerify {
			bad("insecure_skip_verify", "insecure_skip_verify and server_name exclude each other: no name is verified without verifying the server")
		}
		if s.ServerName != "" && !validServerName(s.ServerName) {
			bad("server_name", "server_name %q is not a DNS name or IP address (no scheme, port or wildcard)", s.ServerName)
		}
		if (s.CertFile == "") != (s.KeyFile == "") {
			bad("cert_file", "cert_file and key_file go together")
		}
	}
	if httpish {
		if len(s.ExpectStatus) == 0 {
			bad("expect_status", "expect_status is empty")
		}
		for _, c := range s.ExpectStatus {
			if c < 100 || c > 599 {
				bad("expect_status", "expect_status %d is not an HTTP status (100 to 599)", c)
			}
		}
	}

	if s.Interval < minInterval {
		bad("interval", "interval %v is below the minimum of %v for %s checks", s.Interval, minInterval, typeLabel(s.Type))
	}
	switch {
	case s.Timeout <= 0:
		bad("timeout", "timeout %v must be positive", s.Timeout)
	case s.Timeout >= s.Interval:
		bad("timeout", "timeout %v must be shorter than interval %v", s.Timeout, s.Interval)
	}
	if s.Rise < 1 || s.Rise > MaxRiseFall {
		bad("rise", "rise %d is out of range 1 to %d", s.Rise, MaxRiseFall)
	}
	if s.Fall < 1 || s.Fall > MaxRiseFall {
		bad("fall", "fall %d is out of range 1 to %d", s.Fall, MaxRiseFall)
	}
	return errors.Join(errs...)
}

func (s Spec) validateProcess(bad func(key, format string, args ...any)) {
	switch {
	case s.Process == "" && s.PIDFile == "":
		bad("process", "process is missing; a process check counts the processes of a name (process = \"haproxy\") or the one of a pid_file")
	case strings.ContainsRune(s.Process, 0):
		bad("process", "process %q holds a NUL", s.Process)
	case s.FullCommand && strings.ContainsRune(strings.Join(s.Params, ""), 0):
		bad("params", "params hold a NUL")
	case !s.FullCommand && strings.Contains(s.Process, "/"):
		bad("process", "process %q: a process name has no '/'; to match argv[0] such as /usr/sbin/haproxy set full_command = true", s.Process)
	case !s.FullCommand && len(s.Process) > MaxCommLen:
		bad("process", "process %q is longer than the %d characters the kernel keeps of a process name; match the command line with full_command = true and process = argv[0]", s.Process, MaxCommLen)
	}
	if !s.FullCommand && (len(s.Params) > 0 || s.ParamMatch != "") {
		bad("params", "params and param_match compare the command line: set full_command = true, with process as argv[0] (such as /usr/sbin/haproxy)")
	}
	if s.FullCommand && s.Process == "" {
		bad("full_command", "full_command needs process, the argv[0] to match")
	}
	switch s.ParamMatch {
	case "", ParamExact, ParamPartial, ParamInitial:
	default:
		bad("param_match", "param_match %q: one of %s, %s, %s", s.ParamMatch, ParamExact, ParamPartial, ParamInitial)
	}
	if s.PIDFile != "" && !filepath.IsAbs(s.PIDFile) {
		bad("pid_file", "pid_file %q must be an absolute path", s.PIDFile)
	}
	switch {
	case s.Quorum < 1 || s.Quorum > MaxQuorum:
		bad("quorum", "quorum %d is out of range 1 to %d", s.Quorum, MaxQuorum)
	case s.QuorumMax < 0 || s.QuorumMax > MaxQuorum:
		bad("quorum_max", "quorum_max %d is out of range 1 to %d (leave it out for no maximum)", s.QuorumMax, MaxQuorum)
	case s.QuorumMax > 0 && s.QuorumMax < s.Quorum:
		bad("quorum_max", "quorum_max %d is below quorum %d", s.QuorumMax, s.Quorum)
	case s.PIDFile != "" && s.Quorum > 1:
		bad("quorum", "quorum %d cannot be met: a pid_file names one process", s.Quorum)
	}
}

func (s Spec) validateURL(bad func(key, format string, args ...any)) {
	if s.URL == "" {
		bad("url", "url is missing; an %s check GETs a URL such as %s://127.0.0.1:6443/readyz", s.Type, s.Type)
		return
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil:
		bad("url", "url %q: %v", s.URL, err)
	case u.Scheme != s.Type:
		bad("url", "url %q: an %s check needs an %s:// URL", s.URL, s.Type, s.Type)
	case u.Host == "":
		bad("url", "url %q has no host", s.URL)
	}
}

// dnsName is a host name as a certificate's DNS SAN holds it.
var dnsName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// validServerName says whether name can be verified against a
// certificate: an IP address or a DNS name.
func validServerName(name string) bool {
	if ip, err := netip.ParseAddr(name); err == nil {
		return ip.Zone() == ""
	}
	return len(name) <= 253 && dnsName.MatchString(name)
}

func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("host is missing")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

func typeLabel(t string) string {
	if t == "" {
		return "untyped"
	}
	return t
}
