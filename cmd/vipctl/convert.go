package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vipd/vipd/pkg/kaconf"
)

// idFlags collects -id ID and -id FILE=ID.
type idFlags []string

func (f *idFlags) String() string     { return strings.Join(*f, ",") }
func (f *idFlags) Set(v string) error { *f = append(*f, v); return nil }

// convertKeepalived is vipctl convert-keepalived [-o DIR] [-id ID]
// [-root DIR] [-unsafe] FILE...: each keepalived.conf (one per node)
// becomes a vipd configuration, on stdout for a single file, as
// DIR/NODE.toml with -o. What does not carry over is listed on stderr, one
// note a line, then a verdict per instance. Unless every instance is safe
// for a mixed fleet of keepalived and vipd nodes, nothing is written and
// the exit code is 1; -unsafe writes what converts anyway. It needs no
// daemon.
func (c cli) convertKeepalived(args []string) int {
	fs := newFlagSet("convert-keepalived")
	dir := fs.String("o", "", "")
	root := fs.String("root", "", "")
	unsafe := fs.Bool("unsafe", false, "")
	var ids idFlags
	fs.Var(&ids, "id", "")
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
	opts := kaconf.Options{Root: *root}
	for _, v := range ids {
		file, id, ok := strings.Cut(v, "=")
		switch {
		case !ok:
			opts.ConfigID = v
		case slices.Contains(files, file):
			if opts.ConfigIDs == nil {
				opts.ConfigIDs = make(map[string]string)
			}
			opts.ConfigIDs[file] = id
		default:
			return c.usageError(fmt.Errorf("convert-keepalived: -id %s: %s is not one of the files given", v, file))
		}
	}

	res, err := kaconf.ConvertOptions(files, opts)
	for _, n := range res.Notes {
		fmt.Fprintln(c.stderr, n)
	}
	for _, v := range res.Verdicts {
		fmt.Fprintln(c.stderr, v)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "vipctl: %v\n", err)
		return 1
	}
	if !res.Safe() && !*unsafe {
		bad := 0
		for _, v := range res.Verdicts {
			if !v.Safe {
				bad++
			}
		}
		fmt.Fprintf(c.stderr, "vipctl: refused: %d of %d vrrp_instances would not behave as keepalived's in a mixed fleet (see above); nothing written (-unsafe writes what converts)\n", bad, len(res.Verdicts))
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
