package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// manifest runs vipctl manifest and returns its output and warnings.
func manifest(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	c := cli{stdout: &out, stderr: &errOut, version: "1.2.3"}
	if code := c.run(append([]string{"manifest"}, args...)); code != 0 {
		t.Fatalf("vipctl manifest %q: exit %d\n%s", args, code, errOut.String())
	}
	return out.String(), errOut.String()
}

func example(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestManifestStaticPod decodes the static pod into the API's types with
// strict field checking (an unknown or misplaced field fails) and checks
// what keeps vipd small in its node: host network, two capabilities, the
// files it needs read-only, no service account token.
func TestManifestStaticPod(t *testing.T) {
	cfg := example(t, "control-plane.toml")
	out, warnings := manifest(t, "static-pod", "-image", "registry.example/vipd:1.2.3", cfg)
	if warnings != "" {
		t.Errorf("warnings for control-plane.toml:\n%s", warnings)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(out), &pod); err != nil {
		t.Fatalf("strict decoding: %v\n%s", err, out)
	}
	if pod.APIVersion != "v1" || pod.Kind != "Pod" || pod.Name != "vipd" || pod.Namespace != "kube-system" {
		t.Errorf("%s %s %s/%s, want v1 Pod kube-system/vipd", pod.APIVersion, pod.Kind, pod.Namespace, pod.Name)
	}
	if pod.Spec.Priority == nil || *pod.Spec.Priority != 2000001000 {
		t.Errorf("priority %v, want system-node-critical's 2000001000 (static pods skip admission)", pod.Spec.Priority)
	}
	checkPodSpec(t, pod.Spec, cfg, "registry.example/vipd:1.2.3", []string{"/etc/kubernetes/pki/ca.crt"}, out)
	if pod.Spec.HostPID {
		t.Error("hostPID without a process check")
	}
}

// TestManifestProcessCheck: a process check puts the pod in the host's PID
// namespace, and the directory of its pid file is mounted read-only.
func TestManifestProcessCheck(t *testing.T) {
	out, _ := manifest(t, "static-pod", "-image", "registry.example/vipd:1.2.3", example(t, "haproxy-process.toml"))
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(out), &pod); err != nil {
		t.Fatalf("strict decoding: %v\n%s", err, out)
	}
	if !pod.Spec.HostPID {
		t.Errorf("no hostPID: the process check would see only the pod's processes\n%s", out)
	}

	cfg := filepath.Join(t.TempDir(), "vipd.toml")
	conf := "[[check]]\nname = \"lb\"\ntype = \"process\"\npid_file = \"/run/haproxy/haproxy.pid\"\n\n" +
		"[[instance]]\nname = \"lb\"\nvrid = 61\ninterface = \"eth0\"\npriority = 100\nvips = [\"192.0.2.100/24\"]\ntrack = [{ check = \"lb\" }]\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = manifest(t, "static-pod", "-image", "registry.example/vipd:1.2.3", cfg)
	pod = corev1.Pod{}
	if err := yaml.UnmarshalStrict([]byte(out), &pod); err != nil {
		t.Fatalf("strict decoding: %v\n%s", err, out)
	}
	found := false
	for _, v := range pod.Spec.Volumes {
		found = found || v.HostPath != nil && v.HostPath.Path == "/run/haproxy"
	}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if m.MountPath == "/run/haproxy" && !m.ReadOnly {
			t.Error("/run/haproxy is mounted read-write")
		}
	}
	if !pod.Spec.HostPID || !found {
		t.Errorf("hostPID %v, /run/haproxy mounted %v; want both\n%s", pod.Spec.HostPID, found, out)
	}
}

func TestManifestDaemonSet(t *testing.T) {
	cfg := example(t, "ingress.toml")
	out, _ := manifest(t, "daemonset", "-image", "registry.example/vipd:1.2.3", "-namespace", "ingress",
		"-node-selector", "node-role.kubernetes.io/ingress=,zone=a", cfg)
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict([]byte(out), &ds); err != nil {
		t.Fatalf("strict decoding: %v\n%s", err, out)
	}
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Namespace != "ingress" {
		t.Errorf("%s %s in %s, want an apps/v1 DaemonSet in ingress", ds.APIVersion, ds.Kind, ds.Namespace)
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("the selector's %s=%s is not a label of the template %v", k, v, ds.Spec.Template.Labels)
		}
	}
	if ds.Spec.Template.Spec.Priority != nil {
		t.Error("a DaemonSet's pods get their priority from admission; setting it fails it")
	}
	want := map[string]string{"node-role.kubernetes.io/ingress": "", "zone": "a"}
	if diff := cmp.Diff(want, ds.Spec.Template.Spec.NodeSelector); diff != "" {
		t.Errorf("nodeSelector (-want +got)\n%s", diff)
	}
	checkPodSpec(t, ds.Spec.Template.Spec, cfg, "registry.example/vipd:1.2.3", nil, out)
}

// checkPodSpec checks the settings both kinds share. tls are the files
// that must be mounted read-only besides the configuration's directory.
func checkPodSpec(t *testing.T, spec corev1.PodSpec, cfg, image string, tls []string, text string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("manifest:\n%s", text)
		}
	}()
	if !spec.HostNetwork {
		t.Error("hostNetwork is false: vipd must bind the VIPs on the node's interfaces")
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q, want system-node-critical", spec.PriorityClassName)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false: vipd has no use for a token")
	}
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("%d containers and %d init containers, want vipd alone", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	if c.Image != image {
		t.Errorf("image %q, want %q", c.Image, image)
	}
	if diff := cmp.Diff([]string{"/usr/sbin/vipd", "-config", cfg}, append(c.Command, c.Args...)); diff != "" {
		t.Errorf("command (-want +got)\n%s", diff)
	}

	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext with capabilities")
	}
	if diff := cmp.Diff([]corev1.Capability{"ALL"}, sc.Capabilities.Drop); diff != "" {
		t.Errorf("capabilities dropped (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Capability{"NET_ADMIN", "NET_RAW"}, sc.Capabilities.Add); diff != "" {
		t.Errorf("capabilities added (-want +got)\n%s", diff)
	}
	for what, v := range map[string]*bool{"privileged": sc.Privileged, "allowPrivilegeEscalation": sc.AllowPrivilegeEscalation} {
		if v == nil || *v {
			t.Errorf("%s is not false", what)
		}
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("no RuntimeDefault seccomp profile")
	}

	p := c.LivenessProbe
	if p == nil || p.Exec == nil {
		t.Fatal("no exec liveness probe")
	}
	if diff := cmp.Diff([]string{"/usr/bin/vipctl", "-socket", "/run/vipd/vipd.sock", "live"}, p.Exec.Command); diff != "" {
		t.Errorf("liveness probe (-want +got)\n%s", diff)
	}
	if p.TimeoutSeconds < 5 || p.FailureThreshold < 2 {
		t.Errorf("liveness probe timeout %ds, failure threshold %d: want at least vipctl's 5s call timeout, and two failures", p.TimeoutSeconds, p.FailureThreshold)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.Cmp(resource.MustParse("1m")) < 0 {
			t.Errorf("no %s requested", r)
		}
	}

	// Every mount is of a host path at the same path; the configuration
	// and TLS files read-only, the socket's and state directories not.
	hostPaths := make(map[string]corev1.HostPathVolumeSource)
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %q is not a host path", v.Name)
			continue
		}
		hostPaths[v.Name] = *v.HostPath
	}
	mounts := make(map[string]bool) // path -> read-only
	for _, m := range c.VolumeMounts {
		hp, ok := hostPaths[m.Name]
		if !ok {
			t.Errorf("mount %q has no volume", m.Name)
			continue
		}
		if hp.Path != m.MountPath {
			t.Errorf("volume %q: host path %s mounted at %s", m.Name, hp.Path, m.MountPath)
		}
		mounts[m.MountPath] = m.ReadOnly
	}
	want := map[string]bool{filepath.Dir(cfg): true, "/run/vipd": false, "/var/lib/vipd": false}
	for _, f := range tls {
		want[f] = true
	}
	if diff := cmp.Diff(want, mounts); diff != "" {
		t.Errorf("mounts, path: read-only (-want +got)\n%s", diff)
	}
	for _, v := range spec.Volumes {
		if slices.Contains(tls, v.HostPath.Path) && (v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathFile) {
			t.Errorf("volume %q: type %v, want File (a missing file must not become a directory)", v.Name, v.HostPath.Type)
		}
	}
}

// TestManifestWarnsOfPrograms: exec checks and notify hooks run programs
// the image does not have.
func TestManifestWarnsOfPrograms(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vipd.toml")
	text := `[[check]]
name = "script"
type = "exec"
command = ["/usr/local/lib/vipd/check"]
[[instance]]
name = "api"
vrid = 51
priority = 100
interface = "eth0"
vips = ["192.0.2.100/24"]
notify = ["/usr/local/lib/vipd/on-change"]
track = [{ check = "script" }]
`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings := manifest(t, "static-pod", "-image", "vipd", cfg)
	for _, want := range []string{`check "script" runs /usr/local/lib/vipd/check,`, `instance "api" notifies /usr/local/lib/vipd/on-change,`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("no warning %q in:\n%s", want, warnings)
		}
	}
}

func TestManifestErrors(t *testing.T) {
	cfg := example(t, "control-plane.toml")
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[daemon]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"static-pod", cfg}, 2, "-image is required"},
		{[]string{"pod", "-image", "x", cfg}, 2, `"pod": want static-pod or daemonset`},
		{[]string{"-image", "x"}, 2, "say static-pod or daemonset"},
		{[]string{"static-pod", "-image", "x", "-node-selector", "a=b", cfg}, 2, "-node-selector is for daemonset"},
		{[]string{"daemonset", "-image", "x", "-node-selector", "a", cfg}, 2, `want KEY=VALUE`},
		{[]string{"static-pod", "-image", "x", bad}, 1, "no [[instance]]"},
	} {
		var out, errOut strings.Builder
		c := cli{stdout: &out, stderr: &errOut}
		if code := c.run(append([]string{"manifest"}, tc.args...)); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("vipctl manifest %q: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("vipctl manifest %q wrote a manifest on an error", tc.args)
		}
	}
}
