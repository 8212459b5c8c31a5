package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func options() Options {
	files := func(arch string) []File {
		return []File{
			{Path: "/usr/sbin/vipd", Mode: 0o755, Data: []byte("vipd for " + arch)},
			{Path: "/usr/bin/vipctl", Mode: 0o755, Data: []byte("vipctl for " + arch)},
		}
	}
	return Options{
		Platforms: []Platform{
			{OS: "linux", Architecture: "amd64", Files: files("amd64")},
			{OS: "linux", Architecture: "arm64", Variant: "v8", Files: files("arm64")},
		},
		Created:    created,
		Labels:     map[string]string{"org.opencontainers.image.version": "1.2.3"},
		Entrypoint: []string{"/usr/sbin/vipd"},
		Cmd:        []string{"-config", "/etc/vipd/vipd.toml"},
		StopSignal: "SIGTERM",
		RefName:    "1.2.3",
	}
}

// archive builds the index, writes its layout and returns the layout's
// tar and the index.
func archive(t *testing.T, o Options) ([]byte, v1.ImageIndex) {
	t.Helper()
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteLayout(dir, idx, o.RefName); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteArchive(&b, dir, o.Created); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != o.RefName {
		t.Fatalf("layout's index.json: %+v, want one index named %s", m.Manifests, o.RefName)
	}
	idx, err = top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), idx
}

func TestReproducible(t *testing.T) {
	a, _ := archive(t, options())
	b, _ := archive(t, options())
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same files differ")
	}
	o := options()
	o.Created = created.Add(time.Second)
	if c, _ := archive(t, o); bytes.Equal(a, c) {
		t.Error("the creation time does not show in the archive")
	}
}

func TestIndex(t *testing.T) {
	_, idx := archive(t, options())
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", m.MediaType, types.OCIImageIndex)
	}
	var plats []string
	for _, d := range m.Manifests {
		plats = append(plats, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cf.Platform().String(); got != d.Platform.String() {
			t.Errorf("image of %s says it is for %s", d.Platform, got)
		}
		if !cf.Created.Time.Equal(created) {
			t.Errorf("%s: created %v, want %v", d.Platform, cf.Created.Time, created)
		}
		if diff := cmp.Diff([]string{"/usr/sbin/vipd"}, cf.Config.Entrypoint); diff != "" {
			t.Errorf("entrypoint (-want +got)\n%s", diff)
		}
		if cf.Config.Labels["org.opencontainers.image.version"] != "1.2.3" {
			t.Errorf("labels %v", cf.Config.Labels)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%d layers (%v), want 1", len(layers), err)
		}
		mt, _ := layers[0].MediaType()
		if mt != types.OCILayer {
			t.Errorf("layer media type %s", mt)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		got := tarList(t, rc)
		want := []string{
			"usr/ dir 755", "usr/bin/ dir 755", "usr/bin/vipctl file 755 vipctl for " + d.Platform.Architecture,
			"usr/sbin/ dir 755", "usr/sbin/vipd file 755 vipd for " + d.Platform.Architecture,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: layer (-want +got)\n%s", d.Platform, diff)
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64/v8"}, plats); diff != "" {
		t.Errorf("platforms (-want +got)\n%s", diff)
	}
}

// tarList returns "name type mode [content]" for each entry, checking that
// each is root's and dated created.
func tarList(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(created) {
			t.Errorf("%s: uid %d gid %d time %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		line := h.Name
		switch h.Typeflag {
		case tar.TypeDir:
			line += " dir"
		case tar.TypeReg:
			line += " file"
		default:
			line += " other"
		}
		line += fmt.Sprintf(" %o", h.Mode)
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			line += " " + string(b)
		}
		out = append(out, line)
	}
}

func TestBadPaths(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "/"}},
		{{Path: "../etc/passwd"}},
		{{Path: "/a"}, {Path: "a"}},
	} {
		o := options()
		o.Platforms[0].Files = files
		if _, err := Build(o); err == nil {
			t.Errorf("files %v were accepted", files)
		}
	}
}

// TestNotInDaemon: the image builder and its dependencies stay out of the
// programs that run on the nodes.
func TestNotInDaemon(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/vipd", "../../cmd/vipctl").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"github.com/google/go-containerregistry", "k8s.io/", "sigs.k8s.io/", "github.com/vipd/vipd/internal/image"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("vipd or vipctl links %s", bad)
		}
	}
}
