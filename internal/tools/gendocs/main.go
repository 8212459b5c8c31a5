// Command gendocs writes vipd's manual pages and its packaged configuration
// file into a directory: vipd.8, vipctl.8 and vipd.toml.5 from the
// reference configuration and the programs' help, and vipd.toml, the
// reference with every setting commented out. make man, make install and
// make deb run it.
//
//	gendocs -vipd bin/vipd -vipctl bin/vipctl -reference configs/vipd.toml -o DIR
//
// The pages are dated SOURCE_DATE_EPOCH, so that a build is reproducible.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vipd/vipd/internal/docs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run() error {
	vipd := flag.String("vipd", "bin/vipd", "the vipd binary, whose -h gives its options")
	vipctl := flag.String("vipctl", "bin/vipctl", "the vipctl binary, whose help gives its commands")
	ref := flag.String("reference", "configs/vipd.toml", "the commented reference configuration")
	version := flag.String("version", "dev", "the version the pages name")
	out := flag.String("o", "", "the directory to write to")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		return errors.New("usage: gendocs [-vipd BIN] [-vipctl BIN] [-reference FILE] [-version V] -o DIR")
	}
	epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH: %w (the pages are dated by it)", err)
	}
	m := docs.Meta{Version: *version, Date: time.Unix(epoch, 0)}

	refText, err := os.ReadFile(*ref)
	if err != nil {
		return err
	}
	// vipd -h prints its flags on stderr and exits 2.
	vipdHelp, _ := exec.Command(*vipd, "-h").CombinedOutput()
	vipctlHelp, err := exec.Command(*vipctl, "help").Output()
	if err != nil {
		return fmt.Errorf("%s help: %w", *vipctl, err)
	}
	files := make(map[string][]byte)
	if files["vipd.8"], err = docs.VipdPage(string(vipdHelp), m); err != nil {
		return fmt.Errorf("vipd(8) from %s -h: %w", *vipd, err)
	}
	if files["vipctl.8"], err = docs.VipctlPage(string(vipctlHelp), m); err != nil {
		return fmt.Errorf("vipctl(8) from %s help: %w", *vipctl, err)
	}
	if files["vipd.toml.5"], err = docs.ConfigPage(refText, m); err != nil {
		return fmt.Errorf("vipd.toml(5) from %s: %w", *ref, err)
	}
	files["vipd.toml"] = docs.Disabled(refText)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
