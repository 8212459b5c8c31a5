package health

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid and gid that own the files of "non-root" cases.
const nobody = 65534

func TestCheckOwnership(t *testing.T) {
	// The tree is built under a directory that checkOwnership trusts, as
	// the directories above t.TempDir() (/tmp) are not root's alone.
	base := safeDir(t)
	mkdir := func(name string, mode os.FileMode, uid int) string {
		t.Helper()
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := func(dir, name string, mode os.FileMode, uid int) string {
		t.Helper()
		p := writeFile(t, dir, name, mode, "#!/bin/sh\nexit 0\n")
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	symlink := func(target, p string) string {
		t.Helper()
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	safe := mkdir("safe", 0o755, 0)
	good := file(safe, "good", 0o755, 0)
	ownerOnly := file(safe, "owner-only", 0o700, 0)
	groupW := file(safe, "group-writable", 0o775, 0)
	otherW := file(safe, "other-writable", 0o757, 0)
	notRoot := file(safe, "nobodys", 0o755, nobody)
	noExec := file(safe, "no-exec", 0o644, 0)
	setuid := file(safe, "setuid", os.ModeSetuid|0o755, 0)
	sub := filepath.Join(safe, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}

	open := mkdir("open", 0o777, 0)
	inOpen := file(open, "check", 0o755, 0)
	sticky := mkdir("sticky", os.ModeSticky|0o777, 0)
	inSticky := file(sticky, "check", 0o755, 0)
	groupDir := mkdir("group", 0o775, 0)
	inGroupDir := file(groupDir, "check", 0o755, 0)
	nobodyDir := mkdir("nobodys-dir", 0o755, nobody)
	inNobodyDir := file(nobodyDir, "check", 0o755, 0)

	linkToGood := symlink("good", filepath.Join(safe, "link-to-good"))
	linkAbs := symlink(good, filepath.Join(safe, "abs-link"))
	linkToOpen := symlink(inOpen, filepath.Join(safe, "link-to-open"))
	// A chain through a directory link: safe/dirlink -> ../open.
	dirLink := symlink("../open", filepath.Join(safe, "dirlink"))
	// A link in an unsafe directory pointing at a safe program: the link
	// could be changed, so it is refused too.
	linkInOpen := symlink(good, filepath.Join(open, "link"))
	loop := symlink("loop", filepath.Join(safe, "loop"))

	tests := []struct {
		name string
		path string
		want string // exact error; empty means safe
		is   error
	}{
		{name: "safe", path: good},
		{name: "mode 0700", path: ownerOnly},
		{name: "setuid root", path: setuid},
		{name: "relative link to a safe program", path: linkToGood},
		{name: "absolute link to a safe program", path: linkAbs},
		{name: "dot dot in a safe tree", path: filepath.Join(sub, "..", "good")},
		{
			name: "group writable program",
			path: groupW,
			want: groupW + ": unsafe path: writable by its group, gid 0 (mode 0775)",
			is:   ErrUnsafePath,
		},
		{
			name: "other writable program",
			path: otherW,
			want: otherW + ": unsafe path: writable by others (mode 0757)",
			is:   ErrUnsafePath,
		},
		{
			name: "program not owned by root",
			path: notRoot,
			want: notRoot + ": unsafe path: owned by uid 65534, not root",
			is:   ErrUnsafePath,
		},
		{
			name: "world-writable directory",
			path: inOpen,
			want: inOpen + ": " + open + ": unsafe path: writable by others (mode 0777)",
			is:   ErrUnsafePath,
		},
		{
			name: "sticky world-writable directory, like /tmp",
			path: inSticky,
			want: inSticky + ": " + sticky + ": unsafe path: writable by others (mode 1777; the sticky bit does not make it safe)",
			is:   ErrUnsafePath,
		},
		{
			name: "group-writable directory",
			path: inGroupDir,
			want: inGroupDir + ": " + groupDir + ": unsafe path: writable by its group, gid 0 (mode 0775)",
			is:   ErrUnsafePath,
		},
		{
			name: "directory not owned by root",
			path: inNobodyDir,
			want: inNobodyDir + ": " + nobodyDir + ": unsafe path: owned by uid 65534, not root",
			is:   ErrUnsafePath,
		},
		{
			name: "safe link to a program in an unsafe directory",
			path: linkToOpen,
			want: linkToOpen + ": " + open + ": unsafe path: writable by others (mode 0777)",
			is:   ErrUnsafePath,
		},
		{
			name: "path through a directory link into an unsafe directory",
			path: filepath.Join(dirLink, "check"),
			want: filepath.Join(dirLink, "check") + ": " + open + ": unsafe path: writable by others (mode 0777)",
			is:   ErrUnsafePath,
		},
		{
			name: "link in an unsafe directory",
			path: linkInOpen,
			want: linkInOpen + ": " + open + ": unsafe path: writable by others (mode 0777)",
			is:   ErrUnsafePath,
		},
		{
			name: "not executable",
			path: noExec,
			want: noExec + ": unsafe path: not executable (mode 0644)",
			is:   ErrUnsafePath,
		},
		{
			name: "a directory",
			path: sub,
			want: sub + ": unsafe path: not a regular file (d---------)",
			is:   ErrUnsafePath,
		},
		{
			name: "relative path",
			path: "bin/check",
			want: "bin/check: unsafe path: not an absolute path",
			is:   ErrUnsafePath,
		},
		{
			name: "missing",
			path: filepath.Join(safe, "missing"),
			want: "lstat " + filepath.Join(safe, "missing") + ": no such file or directory",
			is:   fs.ErrNotExist,
		},
		{
			name: "file used as a directory",
			path: filepath.Join(good, "x"),
			want: filepath.Join(good, "x") + ": resolve " + good + ": not a directory",
			is:   syscall.ENOTDIR,
		},
		{
			name: "symlink loop",
			path: loop,
			want: "resolve " + loop + ": too many levels of symbolic links",
			is:   syscall.ELOOP,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOwnership(tt.path, base)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("checkOwnership(%s):\n got %q\nwant %q", tt.path, got, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestCheckOwnershipTrustsNothingByDefault(t *testing.T) {
	// Without a trusted directory the walk starts at /: a program under
	// an unsafe directory made here is refused, whatever the directories
	// above it are.
	dir := safeDir(t)
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	prog := writeFile(t, open, "check", 0o755, "#!/bin/sh\n")
	err := CheckOwnership(prog)
	if !errors.Is(err, ErrUnsafePath) || !strings.HasPrefix(err.Error(), prog+": ") {
		t.Fatalf("CheckOwnership(%s) = %v, want a refusal", prog, err)
	}
}

func TestCheckOwnershipSystemShell(t *testing.T) {
	// /bin/sh is typically a chain of links (/bin -> usr/bin, sh -> dash)
	// through root's directories.
	if err := CheckOwnership("/bin/sh"); err != nil {
		t.Fatalf("CheckOwnership(/bin/sh): %v", err)
	}
}
