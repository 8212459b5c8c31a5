package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/control/controltest"
)

// envClient, set to a socket path, makes the test binary act as a client
// of that socket (see TestMain).
const envClient = "VIPD_CONTROL_TEST_CLIENT"

// nobody is the uid and gid the client runs as.
const nobody = 65534

// clientReport is what the re-executed client prints.
type clientReport struct {
	UID              int
	StatusErr        string
	StatusPermission bool // errors.Is(err, fs.ErrPermission)
	Instances        int
	DrainErr         string
	DrainCode        int
	DrainForbidden   bool // errors.Is(err, control.ErrForbidden)
}

func actAsClient(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := control.NewClient(path)
	r := clientReport{UID: os.Getuid()}
	if st, err := c.Status(ctx); err != nil {
		r.StatusErr = err.Error()
		r.StatusPermission = errors.Is(err, fs.ErrPermission)
	} else {
		r.Instances = len(st.Instances)
	}
	if _, err := c.Drain(ctx, "api"); err != nil {
		r.DrainErr = err.Error()
		var ae *control.APIError
		if errors.As(err, &ae) {
			r.DrainCode = ae.StatusCode
		}
		r.DrainForbidden = errors.Is(err, control.ErrForbidden)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

// publicDir returns a new directory that every user may enter and read,
// removed when the test ends. t.TempDir's are private to root.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vipd-control-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// publicTestBinary copies the test binary where uid 65534 may run it: go
// test builds it in a directory only root may enter.
func publicTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(publicDir(t), "control.test")
	copyFile(t, self, exe)
	return exe
}

// runAsNobody runs the test binary exe as uid and gid 65534, a client of
// the socket at path.
func runAsNobody(t *testing.T, exe, path string) clientReport {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envClient+"="+path,
		// A race build otherwise sleeps a second before exiting.
		"GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("client as uid %d: %v\n%s", nobody, err, ee.Stderr)
		}
		t.Fatalf("client as uid %d: %v", nobody, err)
	}
	var r clientReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("client report %q: %v", out, err)
	}
	return r
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNonRootRefused runs a real client process as another user. With the
// socket's own mode it cannot connect at all; with the socket opened to
// everyone it reads the status but is refused the drain, by the peer
// credentials alone.
func TestNonRootRefused(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	path := filepath.Join(publicDir(t), "vipd.sock")
	serve(t, path, b)
	exe := publicTestBinary(t)

	got := runAsNobody(t, exe, path)
	denied := "cannot connect to vipd: permission denied on " + path
	want := clientReport{UID: nobody, StatusErr: denied, StatusPermission: true, DrainErr: denied}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("socket mode 0660: (-want +got)\n%s", diff)
	}

	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	got = runAsNobody(t, exe, path)
	want = clientReport{
		UID:            nobody,
		Instances:      len(controltest.Sample().Instances),
		DrainErr:       "only root may drain or resume (you are uid 65534)",
		DrainCode:      403,
		DrainForbidden: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("socket mode 0666: (-want +got)\n%s", diff)
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("backend called for a refused peer: %v", calls)
	}
}
