package config

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// CheckPermissions refuses a configuration file that anyone but root (or
// the user vipd runs as) could change: vipd runs as root and executes the
// programs the file names, so whoever can write the file, or replace it in
// its directory, could make vipd run code of their choosing. The file and
// its directory must be owned by root or by that user and writable by
// neither group nor others.
func CheckPermissions(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for _, p := range []string{abs, filepath.Dir(abs)} {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: cannot read its owner", p)
		}
		if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
			return fmt.Errorf("%s: refused: owned by uid %d, not root: whoever owns it could make vipd run programs as root", p, uid)
		}
		if m := fi.Mode().Perm(); m&0o022 != 0 {
			return fmt.Errorf("%s: refused: writable by group or others (mode %04o): anyone who can write it could make vipd run programs as root (chmod go-w %s)", p, m, p)
		}
	}
	return nil
}
