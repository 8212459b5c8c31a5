package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/vipd/vipd/internal/lab"
)

// TestImage builds the image as make image does and inspects it: an index
// of amd64 and arm64, each one layer of static vipd and vipctl, labelled.
// Then it unpacks the amd64 root file system and runs its vipd on two lab
// nodes as root with only CAP_NET_ADMIN and CAP_NET_RAW, as the manifests
// of vipctl manifest run it: the nodes elect, the master holds the VIP,
// and hands it over when stopped.
func TestImage(t *testing.T) {
	lab.Require(t)
	lab.RequireCommand(t, "make")
	lab.RequireCommand(t, "setpriv")

	const version, epoch = "1.0.0-test", "1700000000"
	dir := t.TempDir()
	out := filepath.Join(dir, "image")
	start := time.Now()
	cmd := exec.Command("make", "-C", "..", "--no-print-directory", "image", "VERSION="+version, "IMAGE_OUT="+out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	}
	archive, err := os.ReadFile(out + ".tar")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("make image: %d bytes in %v", len(archive), time.Since(start).Round(time.Millisecond))

	// The same binaries again: the same bytes.
	cmd = exec.Command("go", "run", "../internal/tools/mkimage", "-version", version, "-revision", revision(t),
		"-platform", "linux/amd64=../bin/linux-amd64", "-platform", "linux/arm64=../bin/linux-arm64",
		"-o", filepath.Join(dir, "again"), "-tar", filepath.Join(dir, "again.tar"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, b)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "again.tar")); !bytes.Equal(archive, again) {
		t.Error("two builds of the same binaries differ")
	}

	images := inspectImage(t, out, version)
	rootfs := filepath.Join(dir, "rootfs")
	unpack(t, images["linux/amd64"], rootfs)

	l := lab.New(t)
	hosts := []*lab.Host{l.AddHost("cp-1", "192.0.2.11/24"), l.AddHost("cp-2", "192.0.2.12/24")}
	cfg := cluster(t, "100ms", hosts, []string{"192.0.2.11", "192.0.2.12"}, `name = "api"
vrid = 51
vips = ["192.0.2.100/24"]`)
	vip := netip.MustParseAddr("192.0.2.100")
	var procs []*proc
	for _, h := range hosts {
		procs = append(procs, startCapped(t, h, cfg, filepath.Join(rootfs, "usr/sbin/vipd")))
	}
	for _, p := range procs {
		if caps := capabilities(t, p, filepath.Join(rootfs, "usr/sbin/vipd")); caps != "0000000000003000" {
			t.Errorf("vipd on %s has capabilities %s, want only CAP_NET_ADMIN and CAP_NET_RAW (3000)", p.host.Name(), caps)
		}
	}
	waitHolder(t, 10*time.Second, vip, "cp-1", hosts...)
	stable(t, time.Second, vip, "cp-1", hosts...)

	status, err := exec.Command(filepath.Join(rootfs, "usr/bin/vipctl"), "-socket", procs[0].socket, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(status), "MASTER") {
		t.Errorf("the image's vipctl status on cp-1: %v\n%s", err, status)
	}
	if err := procs[0].stop(); err != nil {
		t.Errorf("vipd on cp-1 exited with %v, want 0", err)
	}
	waitHolder(t, 5*time.Second, vip, "cp-2", hosts...)
}

// revision returns the commit make image labels the image with.
func revision(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// inspectImage checks the layout in dir and returns its images by
// platform.
func inspectImage(t *testing.T, dir, version string) map[string]v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil || len(tm.Manifests) != 1 {
		t.Fatalf("the layout's index.json holds %d entries (%v), want one index", len(tm.Manifests), err)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64/v8": elf.EM_AARCH64}
	images := make(map[string]v1.Image)
	for _, d := range im.Manifests {
		plat := d.Platform.String()
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		images[strings.TrimSuffix(plat, "/v8")] = img
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"/usr/sbin/vipd"}, cf.Config.Entrypoint); diff != "" {
			t.Errorf("%s: entrypoint (-want +got)\n%s", plat, diff)
		}
		labels := cf.Config.Labels
		if labels["org.opencontainers.image.version"] != version || labels["org.opencontainers.image.source"] != "https://github.com/vipd/vipd" ||
			!regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(labels["org.opencontainers.image.revision"]) {
			t.Errorf("%s: labels %v, want version %s, the source and the revision", plat, labels, version)
		}
		if cf.Created.Unix() != 1700000000 {
			t.Errorf("%s: created %v, want SOURCE_DATE_EPOCH", plat, cf.Created)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers (%v), want 1", plat, len(layers), err)
		}
		size, _ := layers[0].Size()
		t.Logf("%s: one layer of %d bytes, compressed", plat, size)
		files := layerFiles(t, layers[0])
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		want := []string{"usr/", "usr/bin/", "usr/bin/vipctl", "usr/sbin/", "usr/sbin/vipd"}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("%s: files (-want +got)\n%s", plat, diff)
		}
		for _, bin := range []string{"usr/sbin/vipd", "usr/bin/vipctl"} {
			f, err := elf.NewFile(bytes.NewReader(files[bin]))
			if err != nil {
				t.Errorf("%s: %s: %v", plat, bin, err)
				continue
			}
			if f.Machine != machines[plat] {
				t.Errorf("%s: %s is for %v", plat, bin, f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("%s: %s is dynamically linked", plat, bin)
				}
			}
		}
	}
	if len(images) != 2 || images["linux/amd64"] == nil || images["linux/arm64"] == nil {
		t.Fatalf("platforms %v, want linux/amd64 and linux/arm64/v8", im.Manifests)
	}
	return images
}

// layerFiles returns the entries of a layer: names, and contents of files.
func layerFiles(t *testing.T, l v1.Layer) map[string][]byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := make(map[string][]byte)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

// unpack writes the image's file system to dir.
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range layerFiles(t, layers[0]) {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// startCapped runs bin as vipd in host h as root with only CAP_NET_ADMIN
// and CAP_NET_RAW, and no way to gain others, like a container of the
// manifests.
func startCapped(t *testing.T, h *lab.Host, cfg, bin string) *proc {
	t.Helper()
	own, socket := ownConfig(t, h, cfg)
	cmd := h.Exec(context.Background(), "setpriv", "--inh-caps=-all,+net_admin,+net_raw", "--bounding-set=-all,+net_admin,+net_raw",
		"--no-new-privs", "--", bin, "-config", own)
	return startProc(t, h, cfg, socket, cmd)
}

// capabilities waits until p runs bin (ip netns exec and setpriv exec it
// in place) and returns its effective capabilities, as /proc shows them.
func capabilities(t *testing.T, p *proc, bin string) string {
	t.Helper()
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if exe == bin {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d runs %q, not %s", pid, exe, bin)
		}
		time.Sleep(5 * time.Millisecond)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapEff:\s*([0-9a-f]+)$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no CapEff in /proc/%d/status", pid)
	}
	return string(m[1])
}
