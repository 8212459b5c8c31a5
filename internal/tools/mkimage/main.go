// Command mkimage writes vipd's container image, for linux on each given
// architecture, as an OCI image layout and, with -tar, as a tar of it:
// make image runs it.
//
//	mkimage -version V -revision COMMIT -platform linux/amd64=bin/linux-amd64 ... -o DIR [-tar FILE]
//
// Each platform's directory holds vipd and vipctl, built static. The image
// has them and nothing else (no shell): /usr/sbin/vipd is the entrypoint.
// Timestamps are SOURCE_DATE_EPOCH.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/image"
)

// source is where the image's sources are, for its label.
const source = "https://github.com/vipd/vipd"

type platforms []string

func (p *platforms) String() string     { return strings.Join(*p, ",") }
func (p *platforms) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run() error {
	var plats platforms
	flag.Var(&plats, "platform", "OS/ARCH[/VARIANT]=DIR, DIR holding vipd and vipctl; repeated")
	version := flag.String("version", "dev", "the image's version label")
	revision := flag.String("revision", "", "the commit, for the revision label")
	out := flag.String("o", "", "the OCI image layout directory to write (replaced)")
	tarFile := flag.String("tar", "", "also write the layout as this tar file")
	flag.Parse()
	if *out == "" || len(plats) == 0 || flag.NArg() > 0 {
		return errors.New("usage: mkimage -platform OS/ARCH=DIR... [-version V] [-revision COMMIT] -o DIR [-tar FILE]")
	}
	epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH: %w (the image is dated by it)", err)
	}
	created := time.Unix(epoch, 0).UTC()

	o := image.Options{
		Created:    created,
		Entrypoint: []string{"/usr/sbin/vipd"},
		Cmd:        []string{"-config", "/etc/vipd/vipd.toml"},
		Env:        []string{"PATH=/usr/sbin:/usr/bin"},
		StopSignal: "SIGTERM",
		RefName:    *version,
		Labels: map[string]string{
			"org.opencontainers.image.title":       "vipd",
			"org.opencontainers.image.description": "VRRP daemon keeping virtual IPs on one healthy node",
			"org.opencontainers.image.version":     *version,
			"org.opencontainers.image.source":      source,
			"org.opencontainers.image.revision":    *revision,
			"org.opencontainers.image.created":     created.Format(time.RFC3339),
		},
	}
	for _, p := range plats {
		spec, dir, ok := strings.Cut(p, "=")
		parts := strings.Split(spec, "/")
		if !ok || len(parts) < 2 || len(parts) > 3 {
			return fmt.Errorf("-platform %q: want OS/ARCH[/VARIANT]=DIR", p)
		}
		plat := image.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			plat.Variant = parts[2]
		} else if plat.Architecture == "arm64" {
			plat.Variant = "v8"
		}
		for _, f := range []struct{ bin, path string }{{"vipd", "/usr/sbin/vipd"}, {"vipctl", "/usr/bin/vipctl"}} {
			data, err := os.ReadFile(filepath.Join(dir, f.bin))
			if err != nil {
				return err
			}
			plat.Files = append(plat.Files, image.File{Path: f.path, Mode: 0o755, Data: data})
		}
		o.Platforms = append(o.Platforms, plat)
	}
	idx, err := image.Build(o)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	if err := image.WriteLayout(*out, idx, *version); err != nil {
		return err
	}
	if *tarFile == "" {
		return nil
	}
	f, err := os.Create(*tarFile)
	if err != nil {
		return err
	}
	if err := image.WriteArchive(f, *out, created); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
