package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// drains are the drained instances, kept in a file so that they survive
// restarts.
type drains struct {
	dir string // "" keeps them in memory only
	log *slog.Logger
	fs  stateFS

	mu      sync.Mutex
	drained map[string]bool
}

func newDrains(dir string, log *slog.Logger) drains {
	return drains{dir: dir, log: log, fs: osFS{}, drained: make(map[string]bool)}
}

// path is where the drained instances are kept, one JSON list.
func (s *drains) path() string {
	if s.dir == "" {
		return ""
	}
	return filepath.Join(s.dir, "drained.json")
}

// set returns the drained instances, the caller's to keep.
func (s *drains) set() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.drained)
}

// change drains (or resumes) names and writes the file.
func (s *drains) change(names []string, drained bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if drained {
			s.drained[n] = true
		} else {
			delete(s.drained, n)
		}
	}
	return s.save()
}

// load reads the file of a previous run.
func (s *drains) load() {
	path := s.path()
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var names []string
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil {
		s.log.Error("cannot read drained instances; starting with none drained", "file", path, "error", err)
		return
	}
	s.mu.Lock()
	for _, n := range names {
		s.drained[n] = true
	}
	s.mu.Unlock()
	if len(names) > 0 {
		s.log.Info("instances still drained from before the restart", "instances", names, "file", path)
	}
}

// save writes the drained instances so that a crash or a power loss
// leaves the old list or the new one, never none: a temporary file is
// written and synced, renamed into place, and the directory synced.
func (s *drains) save() error {
	path := s.path()
	if path == "" {
		return nil
	}
	names := slices.Sorted(maps.Keys(s.drained))
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(names) // a list of strings always marshals
	if err := writeFileSync(s.fs, path, append(b, '\n')); err != nil {
		return fmt.Errorf("keep drain state: %w", err)
	}
	return nil
}

// stateFS is the file system the drain state is written to: the OS's, or
// a test's that records the calls.
type stateFS interface {
	MkdirAll(dir string) error
	Create(name string) (syncFile, error)
	Open(name string) (syncFile, error)
	Rename(from, to string) error
}

type syncFile interface {
	io.WriteCloser
	Sync() error
}

type osFS struct{}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) Create(name string) (syncFile, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

func (osFS) Open(name string) (syncFile, error) { return os.Open(name) }

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }

// writeFileSync replaces the file at path with b atomically and durably.
func writeFileSync(fsys stateFS, path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		// The data is on disk before the name points at it.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is on disk once the directory is.
	df, err := fsys.Open(dir)
	if err != nil {
		return err
	}
	err = df.Sync()
	if cerr := df.Close(); err == nil {
		err = cerr
	}
	return err
}
