package health

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// racyWindow is how long after a file's modification time its stamp is not
// trusted: the kernel stamps files from a coarse clock, so a second write
// soon after the first may leave size, time and inode as they were. Such a
// file is read again on every probe until it is older (git's "racily clean"
// entries, solved the same way).
const racyWindow = 2 * time.Second

// A fileError is a file an https check needs that could not be used.
type fileError struct {
	key, path string // "ca_file", "/etc/kubernetes/pki/ca.crt"
	err       error
}

func (e *fileError) Error() string {
	if errors.Is(e.err, fs.ErrNotExist) {
		return fmt.Sprintf("%s %s: not present yet", e.key, e.path)
	}
	// A PathError would name the file a second time.
	var pe *fs.PathError
	if errors.As(e.err, &pe) {
		return fmt.Sprintf("%s %s: %v", e.key, e.path, pe.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.key, e.path, e.err)
}

func (e *fileError) Unwrap() error { return e.err }

// fileErrors are the problems of all the files of a check, one error.
type fileErrors []error

func (es fileErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (es fileErrors) Unwrap() []error { return es }

// A stamp tells versions of a file apart by what stat returns.
type stamp struct {
	ok           bool // the stat succeeded
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

func statFile(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stamp{}
	}
	return stamp{
		ok:    true,
		dev:   st.Dev,
		ino:   st.Ino,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}

// tlsFiles is the TLS configuration of an https check, made of its files
// (CA bundle, client certificate and key) as they were when last read.
// They are read at the first probe and again when a stat shows that one
// changed, so that files written after vipd started, a renewed certificate
// or a rotated CA need no restart. It is not safe for concurrent use.
type tlsFiles struct {
	base              *tls.Config // without the files' contents
	caFile            string
	certFile, keyFile string

	read   bool     // the files have been read
	stamps [3]stamp // of caFile, certFile, keyFile before they were read
	racy   bool     // a stamp cannot tell whether its file changed since
	cfg    *tls.Config
	err    error
}

func newTLSFiles(s Spec) *tlsFiles {
	return &tlsFiles{
		base: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         s.ServerName,
			InsecureSkipVerify: s.InsecureSkipVerify,
		},
		caFile:   s.CAFile,
		certFile: s.CertFile,
		keyFile:  s.KeyFile,
	}
}

// config returns the TLS configuration, reading the files first if they
// changed. The same *tls.Config is returned until they do. The error, a
// fileErrors, says what is wrong with which file.
func (f *tlsFiles) config(now time.Time) (*tls.Config, error) {
	var stamps [3]stamp
	for i, path := range []string{f.caFile, f.certFile, f.keyFile} {
		if path != "" {
			stamps[i] = statFile(path)
		}
	}
	if f.read && !f.racy && stamps == f.stamps {
		return f.cfg, f.err
	}
	// Stat before reading: a file written in between is then read
	// again at the next probe, as its stamp has changed.
	f.cfg, f.err = f.load()
	f.read, f.stamps, f.racy = true, stamps, false
	for i, path := range []string{f.caFile, f.certFile, f.keyFile} {
		if path != "" && (!stamps[i].ok || now.Sub(time.Unix(0, stamps[i].mtime)) < racyWindow) {
			f.racy = true
		}
	}
	return f.cfg, f.err
}

// load reads the files and builds the configuration of them.
func (f *tlsFiles) load() (*tls.Config, error) {
	cfg := f.base.Clone()
	var errs fileErrors
	read := func(key, path string) ([]byte, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &fileError{key: key, path: path, err: err})
			return nil, false
		}
		return b, true
	}
	if f.caFile != "" {
		if b, ok := read("ca_file", f.caFile); ok {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				errs = append(errs, &fileError{key: "ca_file", path: f.caFile, err: errors.New("no PEM certificate found")})
			}
			cfg.RootCAs = pool
		}
	}
	if f.certFile != "" {
		cert, certOK := read("cert_file", f.certFile)
		key, keyOK := read("key_file", f.keyFile)
		if certOK && keyOK {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				errs = append(errs, fmt.Errorf("cert_file %s / key_file %s: %w", f.certFile, f.keyFile, err))
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// FileWarnings reads the files an https check names (ca_file, cert_file,
// key_file) once and returns a message for each that cannot be used as it
// is now, such as "ca_file /etc/kubernetes/pki/ca.crt: not present yet".
// These are no configuration errors: the probes fail until the files are
// right, then pass without a restart. vipd -t prints them as warnings.
func (s Spec) FileWarnings() []string {
	if s.Type != TypeHTTPS {
		return nil
	}
	_, err := newTLSFiles(s).load()
	var errs fileErrors
	if !errors.As(err, &errs) {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return msgs
}
