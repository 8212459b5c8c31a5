package health

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// A Checker runs one probe. The context carries the probe's timeout; the
// output (an HTTP body, a script's stdout and stderr) is at most MaxOutput
// bytes plus a truncation marker, and is returned also when err is not nil.
type Checker interface {
	Check(ctx context.Context) (output string, err error)
}

// New builds the Checker that s describes, after filling in its defaults
// and validating it. It checks that the program of an exec check is safe to
// run (see CheckOwnership), so that a configuration problem shows when vipd
// starts rather than as a failing check.
//
// New does not read the files an https check names (ca_file, cert_file,
// key_file): they may come later, as kubeadm writes them after vipd has
// started. The probes read them, at the first probe and again whenever a
// stat shows one changed, and fail while one is missing or invalid, saying
// which (see Spec.FileWarnings).
func New(s Spec) (Checker, error) {
	return newChecker(s, "")
}

// newChecker is New with the directory that CheckOwnership trusts without
// looking (see checkOwnership); tests use it to run scripts from t.TempDir.
func newChecker(s Spec, trusted string) (Checker, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var (
		c   Checker
		err error
	)
	switch s.Type {
	case TypeHTTP, TypeHTTPS:
		c = newHTTPChecker(s)
	case TypeTCP:
		c = &tcpChecker{addr: s.Address}
	case TypeExec:
		c, err = newExecChecker(s, trusted)
	case TypeProcess:
		c = newProcessChecker(s, procRoot("/proc"))
	default:
		// Validate rejects any other type.
		panic(fmt.Sprintf("health: type %q passed validation", s.Type))
	}
	if err != nil {
		return nil, fmt.Errorf("health: check %q: %w", s.Name, err)
	}
	return c, nil
}

// brief shortens output for an error message: the whole output is in the
// Status, the error only needs enough to recognise the problem.
func brief(out string) string {
	const max = 200
	if len(out) <= max {
		return out
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}
