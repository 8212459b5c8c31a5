package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
)

// manifestUsage is the help of vipctl manifest.
const manifestUsage = `usage: vipctl manifest static-pod|daemonset -image IMAGE [FLAGS] [CONFIG]

Writes a Kubernetes manifest that runs vipd with CONFIG (default
` + config.DefaultPath + `), a file on the nodes: a static pod, for
/etc/kubernetes/manifests on each control-plane node (before kubeadm init or
join), or a DaemonSet. It reads CONFIG to find the files to mount, and talks
to no cluster: no kubeconfig needed.

Flags:
  -image IMAGE            vipd's image, required
  -namespace NAMESPACE    default kube-system
  -name NAME              of the pod or DaemonSet, default vipd
  -node-selector K=V,...  daemonset: the nodes to run on
`

// A podSpec is what the manifest is made of: everything comes from the
// flags and the configuration file.
type podSpec struct {
	Kind         string // "static-pod" or "daemonset"
	Name         string
	Namespace    string
	Image        string
	Version      string
	Config       string // the configuration file, on the host and in the container
	Socket       string // the control socket, for the liveness probe
	NodeSelector [][2]string
	Volumes      []volume
	// HostPID puts the pod in the host's PID namespace, where process
	// checks see the processes they count.
	HostPID bool
}

// A volume is a host path mounted at the same path in the container.
type volume struct {
	Name     string
	Path     string
	Type     string // hostPath type: Directory, DirectoryOrCreate, File
	ReadOnly bool
}

func (c cli) manifest(args []string) int {
	fs := newFlagSet("manifest")
	image := fs.String("image", "", "")
	namespace := fs.String("namespace", "kube-system", "")
	name := fs.String("name", "vipd", "")
	selector := fs.String("node-selector", "", "")
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, manifestUsage)
		return 0
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "vipctl manifest: %v\n%s", err, manifestUsage)
		return 2
	}
	switch {
	case err != nil:
		return fail(err)
	case len(pos) == 0:
		return fail(errors.New("say static-pod or daemonset"))
	case pos[0] != "static-pod" && pos[0] != "daemonset":
		return fail(fmt.Errorf("%q: want static-pod or daemonset", pos[0]))
	case len(pos) > 2:
		return fail(fmt.Errorf("one configuration file at most, got %q", pos[1:]))
	case *image == "":
		return fail(errors.New("-image is required"))
	case *selector != "" && pos[0] != "daemonset":
		return fail(errors.New("-node-selector is for daemonset"))
	}
	path := config.DefaultPath
	if len(pos) == 2 {
		path = pos[1]
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "vipctl manifest: %v\n", err)
		return 1
	}
	spec, warnings, err := newPodSpec(pos[0], cfg, *image, *name, *namespace, *selector)
	if err != nil {
		return fail(err)
	}
	spec.Version = c.version
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "vipctl manifest: warning: %s\n", w)
	}
	if err := writeManifest(c.stdout, spec); err != nil {
		fmt.Fprintf(c.stderr, "vipctl manifest: %v\n", err)
		return 1
	}
	return 0
}

// newPodSpec derives the pod from the configuration: its file's directory,
// the TLS files of its checks (read-only), the control socket's directory
// and the state directory (read-write). Exec checks and notify hooks run
// programs that the image, which holds vipd and vipctl only, does not
// have: they are warned about.
func newPodSpec(kind string, cfg *config.Config, image, name, namespace, selector string) (podSpec, []string, error) {
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return podSpec{}, nil, err
	}
	s := podSpec{Kind: kind, Name: name, Namespace: namespace, Image: image, Config: abs, Socket: cfg.Daemon.ControlSocket}
	if selector != "" {
		for kv := range strings.SplitSeq(selector, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return s, nil, fmt.Errorf("-node-selector %q: want KEY=VALUE, comma-separated", selector)
			}
			s.NodeSelector = append(s.NodeSelector, [2]string{k, v})
		}
	}
	var warnings []string
	// The directory, not the file: an editor replaces the file, and a
	// mount of the file would keep showing the old one.
	s.Volumes = append(s.Volumes, volume{Name: "config", Path: filepath.Dir(abs), Type: "Directory", ReadOnly: true})
	var files, pidDirs []string
	for _, ch := range cfg.Checks {
		for _, f := range []string{ch.CAFile, ch.CertFile, ch.KeyFile} {
			if f != "" && !slices.Contains(files, f) && !strings.HasPrefix(f, filepath.Dir(abs)+"/") {
				files = append(files, f)
			}
		}
		if ch.Type == health.TypeProcess {
			s.HostPID = true
			// The directory: a process that restarts writes a new file.
			if d := filepath.Dir(ch.PIDFile); ch.PIDFile != "" && !slices.Contains(pidDirs, d) {
				pidDirs = append(pidDirs, d)
			}
		}
		if ch.Type == health.TypeExec {
			warnings = append(warnings, fmt.Sprintf("check %q runs %s, which the image does not have (it holds vipd and vipctl only): use an http, https or tcp check", ch.Name, ch.Command[0]))
		}
	}
	for _, in := range cfg.Instances {
		if len(in.Notify) > 0 {
			warnings = append(warnings, fmt.Sprintf("instance %q notifies %s, which the image does not have (it holds vipd and vipctl only)", in.Name, in.Notify[0]))
		}
	}
	for i, f := range files {
		// The file itself: its directory may hold keys vipd has no use
		// for (kubeadm's /etc/kubernetes/pki). A file replaced on the
		// host is seen after a restart of the pod.
		s.Volumes = append(s.Volumes, volume{Name: "tls-" + strconv.Itoa(i), Path: f, Type: "File", ReadOnly: true})
	}
	for i, d := range pidDirs {
		s.Volumes = append(s.Volumes, volume{Name: "pid-" + strconv.Itoa(i), Path: d, Type: "Directory", ReadOnly: true})
	}
	s.Volumes = append(s.Volumes,
		volume{Name: "run", Path: filepath.Dir(cfg.Daemon.ControlSocket), Type: "DirectoryOrCreate"},
		volume{Name: "state", Path: cfg.Daemon.StateDir, Type: "DirectoryOrCreate"})
	return s, warnings, nil
}

// yq quotes a string for YAML: a JSON string is a YAML double-quoted
// scalar.
func yq(s string) string { return strconv.Quote(s) }

// yamlWriter writes lines of YAML at a base indentation. (text/template
// would do, but it keeps every exported method of vipctl in the binary.)
type yamlWriter struct {
	b      strings.Builder
	indent string
}

func (w *yamlWriter) line(s string) {
	w.b.WriteString(w.indent + s + "\n")
}

func (w *yamlWriter) lines(s string) {
	for l := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		w.line(l)
	}
}

func writeManifest(out io.Writer, s podSpec) error {
	var w yamlWriter
	w.line(fmt.Sprintf("# vipd %s, written by vipctl manifest (vipctl %s) for %s.", s.Kind, s.Version, s.Config))
	if s.Kind == "static-pod" {
		w.lines(`# Put it in /etc/kubernetes/manifests on each control-plane node, with the
# configuration file, before kubeadm init or join.
apiVersion: v1
kind: Pod
metadata:
  name: ` + yq(s.Name) + `
  namespace: ` + yq(s.Namespace) + `
  labels:
    app.kubernetes.io/name: vipd
    component: vipd
    tier: control-plane
spec:`)
		w.indent = "  "
		writePodSpec(&w, s)
		w.lines(`# Static pods skip admission, which would set the priority of the class.
priority: 2000001000`)
	} else {
		w.lines(`# The configuration file must be on every node it runs on.
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ` + yq(s.Name) + `
  namespace: ` + yq(s.Namespace) + `
  labels:
    app.kubernetes.io/name: vipd
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: vipd
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app.kubernetes.io/name: vipd
    spec:`)
		w.indent = "      "
		writePodSpec(&w, s)
	}
	_, err := io.WriteString(out, w.b.String())
	return err
}

// writePodSpec writes the fields of the pod's spec.
func writePodSpec(w *yamlWriter, s podSpec) {
	w.lines(`# vipd adds the VIPs to the node's interfaces and speaks VRRP there.
hostNetwork: true
priorityClassName: system-node-critical
# vipd needs no access to the API server.
automountServiceAccountToken: false
enableServiceLinks: false
# Time for a master to hand its VIPs over (3 advert intervals).
terminationGracePeriodSeconds: 30`)
	if s.HostPID {
		w.lines(`# Process checks count the node's processes, which only the host's PID
# namespace shows.
hostPID: true`)
	}
	if len(s.NodeSelector) > 0 {
		w.line("nodeSelector:")
		for _, kv := range s.NodeSelector {
			w.line("  " + yq(kv[0]) + ": " + yq(kv[1]))
		}
	}
	w.lines(`containers:
- name: vipd
  image: ` + yq(s.Image) + `
  imagePullPolicy: IfNotPresent
  command: ["/usr/sbin/vipd"]
  args: ["-config", ` + yq(s.Config) + `]
  securityContext:
    # Root in the container, for the control socket's owner checks,
    # but with only the two capabilities vipd needs.
    runAsUser: 0
    privileged: false
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
      add: ["NET_ADMIN", "NET_RAW"]
    seccompProfile:
      type: RuntimeDefault
  # vipctl status asks the daemon on its control socket: it fails when
  # vipd stops answering, not while it waits for its address or
  # while its checks fail (the VIP moves then; a restart would not help).
  livenessProbe:
    exec:
      command: ["/usr/bin/vipctl", "-socket", ` + yq(s.Socket) + `, "live"]
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  resources:
    # No limits: the node's VIP holder must not be throttled or killed.
    requests:
      cpu: 20m
      memory: 32Mi
  volumeMounts:`)
	for _, v := range s.Volumes {
		w.line("  - name: " + yq(v.Name))
		w.line("    mountPath: " + yq(v.Path))
		if v.ReadOnly {
			w.line("    readOnly: true")
		}
	}
	w.line("volumes:")
	for _, v := range s.Volumes {
		w.line("- name: " + yq(v.Name))
		w.line("  hostPath:")
		w.line("    path: " + yq(v.Path))
		w.line("    type: " + v.Type)
	}
}
