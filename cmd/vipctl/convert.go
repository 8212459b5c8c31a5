package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vipd/vipd/pkg/kaconf"
)

// convertKeepalived is vipctl convert-keepalived [-o DIR] FILE...: each
// keepalived.conf (one per node) becomes a vipd configuration, on stdout
// for a single file, as DIR/NODE.toml with -o. What does not carry over is
// listed on stderr, one note a line. It needs no daemon.
func (c cli) convertKeepalived(args []string) int {
	fs := newFlagSet("convert-keepalived")
	dir := fs.String("o", "", "")
	fs.String("socket", "", "") // accepted, as by every command; no daemon is asked
	files, err := parse(fs, args)
	switch {
	case err != nil:
		return c.usageError(fmt.Errorf("convert-keepalived: %w", err))
	case len(files) == 0:
		return c.usageError(fmt.Errorf("convert-keepalived: no keepalived.conf given"))
	case len(files) > 1 && *dir == "":
		return c.usageError(fmt.Errorf("convert-keepalived: %d files make %d vipd configurations, one per node: write them with -o DIR", len(files), len(files)))
	}

	res, err := kaconf.Convert(files)
	for _, n := range res.Notes {
		fmt.Fprintln(c.stderr, n)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
		return 1
	}
	if *dir == "" {
		if _, err := c.stdout.Write(res.Nodes[0].TOML); err != nil {
			fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
			return 1
		}
		return 0
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
		return 1
	}
	for _, nd := range res.Nodes {
		path := filepath.Join(*dir, nd.Name+".toml")
		// An auth_password is a secret of sorts: root's alone, as
		// /etc/vipd/vipd.toml should be.
		if err := os.WriteFile(path, nd.TOML, 0o600); err != nil {
			fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
			return 1
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", nd.Source, path)
	}
	return 0
}
