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
	"text/template"

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
	var files []string
	for _, ch := range cfg.Checks {
		for _, f := range []string{ch.CAFile, ch.CertFile, ch.KeyFile} {
			if f != "" && !slices.Contains(files, f) && !strings.HasPrefix(f, filepath.Dir(abs)+"/") {
				files = append(files, f)
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
	s.Volumes = append(s.Volumes,
		volume{Name: "run", Path: filepath.Dir(cfg.Daemon.ControlSocket), Type: "DirectoryOrCreate"},
		volume{Name: "state", Path: cfg.Daemon.StateDir, Type: "DirectoryOrCreate"})
	return s, warnings, nil
}

// yq quotes a string for YAML: a JSON string is a YAML double-quoted
// scalar.
func yq(s string) string { return strconv.Quote(s) }

var manifestTemplate = template.Must(template.New("manifest").Funcs(template.FuncMap{"q": yq}).Parse(
	`# vipd {{.Kind}}, written by vipctl manifest (vipctl {{.Version}}) for {{.Config}}.
{{- if eq .Kind "static-pod"}}
# Put it in /etc/kubernetes/manifests on each control-plane node, with the
# configuration file, before kubeadm init or join.
apiVersion: v1
kind: Pod
metadata:
  name: {{q .Name}}
  namespace: {{q .Namespace}}
  labels:
    app.kubernetes.io/name: vipd
    component: vipd
    tier: control-plane
spec:
{{- template "pod" .}}
  # Static pods skip admission, which would set the priority of the class.
  priority: 2000001000
{{- else}}
# The configuration file must be on every node it runs on.
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{q .Name}}
  namespace: {{q .Namespace}}
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
    spec:
{{- template "pod" .}}
{{- end}}
{{define "pod"}}{{$i := "" }}{{if ne .Kind "static-pod"}}{{$i = "    "}}{{end}}
{{$i}}  # vipd adds the VIPs to the node's interfaces and speaks VRRP there.
{{$i}}  hostNetwork: true
{{$i}}  priorityClassName: system-node-critical
{{$i}}  # vipd needs no access to the API server.
{{$i}}  automountServiceAccountToken: false
{{$i}}  enableServiceLinks: false
{{$i}}  # Time for a master to hand its VIPs over (3 advert intervals).
{{$i}}  terminationGracePeriodSeconds: 30
{{- if .NodeSelector}}
{{$i}}  nodeSelector:
{{- range .NodeSelector}}
{{$i}}    {{q (index . 0)}}: {{q (index . 1)}}
{{- end}}
{{- end}}
{{$i}}  containers:
{{$i}}  - name: vipd
{{$i}}    image: {{q .Image}}
{{$i}}    imagePullPolicy: IfNotPresent
{{$i}}    command: ["/usr/sbin/vipd"]
{{$i}}    args: ["-config", {{q .Config}}]
{{$i}}    securityContext:
{{$i}}      # Root in the container, for the control socket's owner checks,
{{$i}}      # but with only the two capabilities vipd needs.
{{$i}}      runAsUser: 0
{{$i}}      privileged: false
{{$i}}      allowPrivilegeEscalation: false
{{$i}}      readOnlyRootFilesystem: true
{{$i}}      capabilities:
{{$i}}        drop: ["ALL"]
{{$i}}        add: ["NET_ADMIN", "NET_RAW"]
{{$i}}      seccompProfile:
{{$i}}        type: RuntimeDefault
{{$i}}    # vipctl status asks the daemon on its control socket: it fails when
{{$i}}    # vipd stops answering, not while it waits for its address or
{{$i}}    # while its checks fail (the VIP moves then; a restart would not help).
{{$i}}    livenessProbe:
{{$i}}      exec:
{{$i}}        command: ["/usr/bin/vipctl", "-socket", {{q .Socket}}, "status"]
{{$i}}      periodSeconds: 10
{{$i}}      timeoutSeconds: 5
{{$i}}      failureThreshold: 3
{{$i}}    resources:
{{$i}}      # No limits: the node's VIP holder must not be throttled or killed.
{{$i}}      requests:
{{$i}}        cpu: 20m
{{$i}}        memory: 32Mi
{{$i}}    volumeMounts:
{{- range .Volumes}}
{{$i}}    - name: {{q .Name}}
{{$i}}      mountPath: {{q .Path}}
{{- if .ReadOnly}}
{{$i}}      readOnly: true
{{- end}}
{{- end}}
{{$i}}  volumes:
{{- range .Volumes}}
{{$i}}  - name: {{q .Name}}
{{$i}}    hostPath:
{{$i}}      path: {{q .Path}}
{{$i}}      type: {{.Type}}
{{- end}}
{{- end}}`))

func writeManifest(w io.Writer, s podSpec) error {
	var b strings.Builder
	if err := manifestTemplate.Execute(&b, s); err != nil {
		return err
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
