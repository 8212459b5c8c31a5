package config

// The [[check]] tables: health.Spec with the file's defaults, and errors
// that name the key.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// checks validates the [[check]] tables and fills in their defaults.
func (p *parser) checks(rcs []rawCheck) []health.Spec {
	var specs []health.Spec
	names := make(map[string]int) // check name → index of its first check
	for i, rc := range rcs {
		specs = append(specs, p.check(rc, i))
		if rc.Name == "" {
			continue
		}
		if first, dup := names[rc.Name]; dup {
			p.errorf(fmt.Sprintf("check[%d].name", i), "%s: name %q is already used by the check on line %d",
				checkLabel(rc.Name, i), rc.Name, p.lines.line(fmt.Sprintf("check[%d]", first)))
		} else {
			names[rc.Name] = i
		}
	}
	return specs
}

// check validates one [[check]] and fills in its defaults. health.Spec
// does the validating; each of its *health.SpecError names the key at
// fault, which gives the line.
func (p *parser) check(rc rawCheck, i int) health.Spec {
	path := fmt.Sprintf("check[%d]", i)
	label := checkLabel(rc.Name, i)
	s := health.Spec{
		Name:               rc.Name,
		Type:               rc.Type,
		URL:                rc.URL,
		CAFile:             rc.CAFile,
		ServerName:         rc.ServerName,
		CertFile:           rc.CertFile,
		KeyFile:            rc.KeyFile,
		InsecureSkipVerify: rc.InsecureSkipVerify,
		Address:            rc.Address,
		Command:            slices.Clone(rc.Command),
		Process:            rc.Process,
		FullCommand:        rc.FullCommand,
		Params:             slices.Clone(rc.Params),
		ParamMatch:         rc.ParamMatch,
		PIDFile:            rc.PIDFile,
	}
	// Zero means "default" to WithDefaults; a zero written in the file is
	// a mistake to report, so it is put back after the defaults.
	if rc.Interval != nil {
		s.Interval = time.Duration(*rc.Interval)
	}
	if rc.Timeout != nil {
		s.Timeout = time.Duration(*rc.Timeout)
	}
	s = s.WithDefaults()
	if rc.Interval != nil {
		s.Interval = time.Duration(*rc.Interval)
	}
	if rc.Timeout != nil {
		s.Timeout = time.Duration(*rc.Timeout)
	}
	if rc.Rise != nil {
		s.Rise = clampInt(*rc.Rise)
	}
	if rc.Fall != nil {
		s.Fall = clampInt(*rc.Fall)
	}
	// 0 means "default" to health.Spec, and no maximum for quorum_max.
	switch {
	case rc.Quorum == nil:
	case *rc.Quorum == 0:
		p.errorf(path+".quorum", "%s: quorum 0 is out of range 1 to %d", label, health.MaxQuorum)
	default:
		s.Quorum = clampInt(*rc.Quorum)
	}
	switch {
	case rc.QuorumMax == nil:
	case *rc.QuorumMax == 0:
		p.errorf(path+".quorum_max", "%s: quorum_max 0 is out of range 1 to %d (leave it out for no maximum)", label, health.MaxQuorum)
	default:
		s.QuorumMax = clampInt(*rc.QuorumMax)
	}
	if rc.WatchConnection != nil {
		s.NoWatch = !*rc.WatchConnection
		if *rc.WatchConnection && (s.Type == health.TypeExec || s.Type == health.TypeProcess) {
			p.errorf(path+".watch_connection", "%s: watch_connection applies only to tcp, http and https checks", label)
		}
	}
	if rc.ExpectStatus != nil {
		s.ExpectStatus = make([]int, len(*rc.ExpectStatus))
		for j, code := range *rc.ExpectStatus {
			s.ExpectStatus[j] = clampInt(code)
		}
	}

	err := s.Validate()
	if err == nil {
		return s
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	badInterval := slices.ContainsFunc(errs, func(err error) bool {
		var se *health.SpecError
		return errors.As(err, &se) && se.Key == "interval"
	})
	for _, err := range errs {
		var se *health.SpecError
		switch {
		case !errors.As(err, &se):
			p.errorf(path, "%s: %v", label, err)
		case se.Key == "timeout" && rc.Timeout == nil && badInterval:
			// The default timeout follows the interval: reporting
			// it would only repeat the interval's problem.
		default:
			p.errorf(path+"."+se.Key, "%s: %s", label, se.Msg)
		}
	}
	return s
}

// clampInt converts a value of the file to an int, saturating where int
// is 32 bits: the limits of what takes an int are far smaller.
func clampInt(v int64) int {
	return int(max(min(v, 1<<31-1), -1<<31))
}
