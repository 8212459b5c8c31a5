package health

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnsafePath is wrapped by the errors of CheckOwnership when a program
// or a directory on its path could be changed by someone other than root.
var ErrUnsafePath = errors.New("unsafe path")

// maxSymlinks bounds the symbolic links followed while resolving a path,
// as the kernel's ELOOP limit does.
const maxSymlinks = 40

// CheckOwnership reports whether the program at path (an absolute path) is
// safe for vipd, which runs as root, to execute: the program must be a
// regular, executable file and it, every directory above it and every
// directory passed through while following symbolic links must be owned by
// root (uid 0) and writable by neither group nor others. Otherwise anyone
// who can write there could make vipd run code of their choosing.
//
// The rule is keepalived's script security, and like keepalived it makes no
// exception for sticky world-writable directories such as /tmp: the sticky
// bit stops others from replacing an existing entry, but not from creating
// the program (or a directory of its path) before the owner does. Group
// write is refused even for group root, so that the rule reads from the
// mode bits alone. Symbolic links themselves are not judged (their mode
// means nothing); the directory holding each link is, and so is the target.
//
// An unsafe path yields an error wrapping ErrUnsafePath that names the path
// and the reason; a path that cannot be resolved yields the fs error.
func CheckOwnership(path string) error {
	return checkOwnership(path, "")
}

// checkOwnership is CheckOwnership trusting, without looking, the
// directory trusted and every directory above it. With trusted empty
// nothing is trusted; tests pass t.TempDir(), whose parents (/tmp) they do
// not control.
func checkOwnership(path, trusted string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: %w: not an absolute path", path, ErrUnsafePath)
	}
	// resolveSafe's errors name the entry at fault; name the program
	// too when that is another path.
	at, err := resolveSafe(path, trusted)
	if err != nil && at != path {
		return fmt.Errorf("%s: %w", path, err)
	}
	return err
}

// resolveSafe does the work of checkOwnership. On error it also returns
// the path of the entry at fault, which the error names.
func resolveSafe(path, trusted string) (at string, err error) {
	isTrusted := func(dir string) bool {
		return trusted != "" && (dir == "/" || dir == trusted || strings.HasPrefix(trusted, dir+"/"))
	}
	checkEntry := func(p string, fi fs.FileInfo) error {
		if isTrusted(p) {
			return nil
		}
		return entrySafe(p, fi)
	}

	root, err := os.Lstat("/")
	if err != nil {
		return "/", err
	}
	if err := checkEntry("/", root); err != nil {
		return "/", err
	}
	// Resolve the path one component at a time, as the kernel does, so
	// that every directory it passes through is checked, also those of
	// symbolic links that the final, resolved path no longer shows.
	cur := "/"
	todo := splitPath(path)
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur) // already checked on the way down
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return next, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			links++
			if links > maxSymlinks {
				return next, &fs.PathError{Op: "resolve", Path: next, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return next, err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if err := checkEntry(next, fi); err != nil {
			return next, err
		}
		if len(todo) > 0 && !fi.IsDir() {
			return next, &fs.PathError{Op: "resolve", Path: next, Err: syscall.ENOTDIR}
		}
		cur = next
	}

	fi, err := os.Stat(cur)
	if err != nil {
		return cur, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return cur, fmt.Errorf("%s: %w: not a regular file (%v)", cur, ErrUnsafePath, fi.Mode().Type())
	case fi.Mode().Perm()&0o111 == 0:
		return cur, fmt.Errorf("%s: %w: not executable (mode %04o)", cur, ErrUnsafePath, modeBits(fi.Mode()))
	}
	return "", nil
}

// entrySafe reports whether the file or directory p is owned by root and
// writable by nobody else.
func entrySafe(p string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: %w: cannot read its owner", p, ErrUnsafePath)
	}
	var why string
	mode := fi.Mode()
	switch {
	case st.Uid != 0:
		why = fmt.Sprintf("owned by uid %d, not root", st.Uid)
	case mode&0o002 != 0 && mode&fs.ModeSticky != 0:
		why = fmt.Sprintf("writable by others (mode %04o; the sticky bit does not make it safe)", modeBits(mode))
	case mode&0o002 != 0:
		why = fmt.Sprintf("writable by others (mode %04o)", modeBits(mode))
	case mode&0o020 != 0:
		why = fmt.Sprintf("writable by its group, gid %d (mode %04o)", st.Gid, modeBits(mode))
	default:
		return nil
	}
	return fmt.Errorf("%s: %w: %s", p, ErrUnsafePath, why)
}

// modeBits returns the permission bits with setuid, setgid and sticky in
// their octal places, as ls and chmod show them.
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// splitPath returns the non-empty components of p.
func splitPath(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return parts
}
