// Package testutil holds small helpers the test harnesses share.
package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// SyncBuffer collects a process's output (written by exec's copying
// goroutines) while tests read it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// GoBuild builds the package at pkg (a path relative to the test's
// directory) into a temporary directory as name and returns its path.
func GoBuild(t testing.TB, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Detach puts a child process the harness starts in a process group of its
// own, killed if the thread that started it dies: a Ctrl-C at the terminal
// reaches only the test binary, whose cleanups then stop the children in
// order (make demo relies on it), and a test binary killed outright takes
// its children with it.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// LogDir is the directory where the processes a test starts log, under
// $TMPDIR/calico-vpp-e2e/<test>/<part>. It is removed when the test
// passes and kept (and named in the test's output) when it fails.
func LogDir(t testing.TB, part string) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "calico-vpp-e2e", strings.ReplaceAll(t.Name(), "/", "_"), part)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
		// The test's and the run's directories go too once empty.
		_ = os.Remove(filepath.Dir(dir))
		_ = os.Remove(filepath.Dir(filepath.Dir(dir)))
	})
	return dir
}

// LogFile opens name in a LogDir for appending (closed when the test
// ends).
func LogFile(t testing.TB, dir, name string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}
