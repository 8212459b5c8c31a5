package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPermissions(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "vipd.toml")
	if err := os.WriteFile(file, []byte("# empty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckPermissions(file); err != nil {
		t.Fatalf("safe file refused: %v", err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T)
		want  string
	}{
		{"file writable by others", func(t *testing.T) { os.Chmod(file, 0o646) }, "writable by group or others (mode 0646)"},
		{"file writable by group", func(t *testing.T) { os.Chmod(file, 0o664) }, "writable by group or others (mode 0664)"},
		{"directory writable by others", func(t *testing.T) { os.Chmod(dir, 0o777) }, dir + ": refused: writable by group or others (mode 0777)"},
		{"file owned by another user", func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			if err := os.Chown(file, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534, not root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() {
				os.Chmod(file, 0o644)
				os.Chmod(dir, 0o755)
				os.Chown(file, os.Geteuid(), os.Getegid())
			})
			tt.setup(t)
			err := CheckPermissions(file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckPermissions = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
