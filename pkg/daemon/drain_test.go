package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingFS is the OS's file system, recording the calls that make a
// write durable.
type recordingFS struct {
	osFS
	dir string
	ops []string
}

func (r *recordingFS) rel(name string) string { return strings.TrimPrefix(name, r.dir+"/") }

func (r *recordingFS) Create(name string) (syncFile, error) {
	r.ops = append(r.ops, "create "+r.rel(name))
	f, err := r.osFS.Create(name)
	return recordingFile{f, r, r.rel(name)}, err
}

func (r *recordingFS) Open(name string) (syncFile, error) {
	r.ops = append(r.ops, "open "+r.rel(name))
	f, err := r.osFS.Open(name)
	return recordingFile{f, r, r.rel(name)}, err
}

func (r *recordingFS) Rename(from, to string) error {
	r.ops = append(r.ops, fmt.Sprintf("rename %s %s", r.rel(from), r.rel(to)))
	return r.osFS.Rename(from, to)
}

type recordingFile struct {
	syncFile
	fs   *recordingFS
	name string
}

func (f recordingFile) Write(b []byte) (int, error) {
	f.fs.ops = append(f.fs.ops, "write "+f.name)
	return f.syncFile.Write(b)
}

func (f recordingFile) Sync() error {
	f.fs.ops = append(f.fs.ops, "sync "+f.name)
	return f.syncFile.Sync()
}

func (f recordingFile) Close() error {
	f.fs.ops = append(f.fs.ops, "close "+f.name)
	return f.syncFile.Close()
}

// TestDrainStateDurable: a drain is on disk, data and name, before Drain
// returns: the file is synced before the rename, the directory after.
func TestDrainStateDurable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state")
	s := newDrains(dir, slog.New(slog.DiscardHandler))
	rec := &recordingFS{dir: root}
	s.fs = rec
	if err := s.change([]string{"api"}, true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create state/drained.json.tmp", "write state/drained.json.tmp", "sync state/drained.json.tmp", "close state/drained.json.tmp",
		"rename state/drained.json.tmp state/drained.json",
		"open state", "sync state", "close state",
	}
	if diff := cmp.Diff(want, rec.ops); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(dir, "drained.json"))
	if err != nil || string(b) != "[\"api\"]\n" {
		t.Errorf("drained.json = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "drained.json"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("drained.json mode %v, %v; want 0644", fi.Mode().Perm(), err)
	}
}
