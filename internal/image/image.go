// Package image builds vipd's container image: an OCI image index of one
// image per platform, each a single layer of static binaries and nothing
// else, written as an OCI image layout without a container daemon.
//
// The image is reproducible: every timestamp is the given creation time
// (SOURCE_DATE_EPOCH), files are in a fixed order with fixed owners, so the
// same binaries give the same digests. It is used by make image
// (internal/tools/mkimage) and its tests only: go-containerregistry is
// linked into neither vipd nor vipctl.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A File is one file of an image's layer.
type File struct {
	Path string // absolute, in the image
	Mode int64  // permission bits
	Data []byte
}

// A Platform is one image of the index: its platform and files.
type Platform struct {
	OS, Architecture, Variant string
	Files                     []File
}

// Options describe the index.
type Options struct {
	Platforms  []Platform
	Created    time.Time // of every file, the configs and the history
	Labels     map[string]string
	Entrypoint []string
	Cmd        []string
	Env        []string
	StopSignal string
	RefName    string // the layout's name for the index (org.opencontainers.image.ref.name)
}

// Build returns the image index of the platforms.
func Build(o Options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range o.Platforms {
		img, err := buildImage(o, p)
		if err != nil {
			return nil, fmt.Errorf("image: %s/%s: %w", p.OS, p.Architecture, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant},
		}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

func buildImage(o Options, p Platform) (v1.Image, error) {
	layerTar, err := layerTar(p.Files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      created,
		Config: v1.Config{
			Entrypoint: o.Entrypoint,
			Cmd:        o.Cmd,
			Env:        o.Env,
			Labels:     o.Labels,
			StopSignal: o.StopSignal,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: created, CreatedBy: "make image", Comment: "static binaries"},
	})
}

// layerTar returns the layer's tar: the files with their parent
// directories, sorted, owned by root and dated created.
func layerTar(files []File, created time.Time) ([]byte, error) {
	entries := make(map[string]File)
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean(f.Path), "/")
		if p == "" || p == "." || strings.HasPrefix(p, "..") {
			return nil, fmt.Errorf("bad path %q", f.Path)
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("%s twice", f.Path)
		}
		entries[p] = f
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			entries[d+"/"] = File{Mode: 0o755}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: n, Mode: f.Mode, ModTime: created.UTC(), Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if strings.HasSuffix(n, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteLayout writes the index as an OCI image layout in dir, which must
// not exist yet or be empty, named o.RefName.
func WriteLayout(dir string, idx v1.ImageIndex, refName string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName}))
	}
	return p.AppendIndex(idx, opts...)
}

// WriteArchive writes the layout in dir as a tar (an "oci-archive", which
// podman load and skopeo read): sorted, owned by root, dated created.
func WriteArchive(w io.Writer, dir string, created time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, ModTime: created.UTC(), Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		var data []byte
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			if data, err = os.ReadFile(filepath.Join(dir, n)); err != nil {
				return err
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}
