package health

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTLSFilesReread(t *testing.T) {
	// The files are read again when a stat shows a change, and only
	// then, unless they are too recent for their stamp to tell.
	a, b := newTestCA(t, "a"), newTestCA(t, "b")
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	now := time.Now()
	old := now.Add(-time.Hour)
	write := func(from string, mtime time.Time) {
		t.Helper()
		copyFile(t, from, caFile)
		if err := os.Chtimes(caFile, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	f := newTLSFiles(Spec{Type: TypeHTTPS, CAFile: caFile})
	config := func() any {
		t.Helper()
		cfg, err := f.config(now)
		if err != nil {
			return err.Error()
		}
		return cfg
	}

	missing := config()
	if want := "ca_file " + caFile + ": not present yet"; missing != want {
		t.Fatalf("before the file: %v, want %q", missing, want)
	}
	write(a.file, old)
	first := config()
	if _, ok := first.(string); ok {
		t.Fatalf("after the file: %v", first)
	}
	if again := config(); again != first {
		t.Fatal("an unchanged file was read again")
	}
	// The same size, a different time: a new CA of the same shape.
	write(b.file, old.Add(time.Second))
	second := config()
	if second == first {
		t.Fatal("a changed file was not read again")
	}
	if again := config(); again != second {
		t.Fatal("an unchanged file was read again")
	}
	// A file written within racyWindow of now is read at every call, as
	// a second write may keep its stamp.
	write(a.file, now.Add(-racyWindow/2))
	third := config()
	if third == second {
		t.Fatal("a changed file was not read again")
	}
	if again := config(); again == third {
		t.Fatal("a file of racy age was not read again")
	}
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	if got, want := config(), "ca_file "+caFile+": not present yet"; got != want {
		t.Fatalf("after removing the file: %v, want %q", got, want)
	}
}
