package vpptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/test/testutil"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

// Environment variables selecting the VPP the tests run against.
const (
	EnvVPPBinary       = "VPP_BINARY"          // a real vpp; unset: fakevpp
	EnvPluginPath      = "VPP_PLUGIN_PATH"     // plugins { path ... } for a real vpp
	EnvLDLibraryPath   = "VPP_LD_LIBRARY_PATH" // LD_LIBRARY_PATH for a real vpp
	EnvFakeVPPBinary   = "FAKEVPP_BINARY"      // a prebuilt fakevpp (make test sets it)
	EnvFakeNoVhostNet  = "FAKEVPP_NO_VHOST_NET"
	defaultStopTimeout = 10 * time.Second
)

// RealVPP reports whether the tests run against a real VPP.
func RealVPP() bool { return os.Getenv(EnvVPPBinary) != "" }

// ManagedTemplate is a startup.conf template for vpp-manager
// (CALICOVPP_CONFIG_TEMPLATE) that keeps VPP's files in its run directory;
// prefix names the API segment (unique per VPP on the machine).
func ManagedTemplate(prefix string) string {
	tmpl := `unix { nodaemon runtime-dir __RUN_DIR__ cli-listen __RUN_DIR__/cli.sock exec __STARTUP_EXEC__ }
api-segment { prefix ` + prefix + ` }
statseg { socket-name __RUN_DIR__/stats.sock }
socksvr { socket-name __API_SOCKET__ }
buffers { page-size 4k buffers-per-numa 16384 }
memory { main-heap-page-size 4k }
`
	if p := os.Getenv(EnvPluginPath); p != "" {
		tmpl += "plugins { path " + p + " }\n"
	}
	return tmpl
}

// ManagedEnv is what vpp-manager needs, beyond its configuration, to run
// the VPP under test (LD_LIBRARY_PATH for a real one).
func ManagedEnv(t testing.TB) []string {
	env := []string{"CALICOVPP_VPP_BINARY=" + Binary(t)}
	if p := os.Getenv(EnvLDLibraryPath); p != "" {
		env = append(env, "LD_LIBRARY_PATH="+p)
	}
	return env
}

// CanCreateTaps reports whether the VPP under test can create taps and
// tuns: fakevpp always can; a real VPP needs /dev/vhost-net.
func CanCreateTaps() bool {
	if !RealVPP() {
		return true
	}
	_, err := os.Stat("/dev/vhost-net")
	return err == nil
}

// Options select how a VPP process is started.
type Options struct {
	// Netns to run in; nil creates one for the instance.
	Netns *topo.Netns
	// ExtraConfig is appended to the generated startup.conf.
	ExtraConfig string
	// Exec lines go to the unix { exec } file.
	Exec []string
	// NoVhostNet makes fakevpp behave as on a kernel without vhost-net
	// (ignored by a real VPP, which sees the machine as it is).
	NoVhostNet bool
}

// Instance is a running VPP process.
type Instance struct {
	Dir        string
	Netns      *topo.Netns
	ConfigPath string
	APISocket  string
	VPP        *vpplink.VPP
	cmd        *exec.Cmd
	exited     chan error
	group      errgroup.Group // the goroutine waiting for the process
	log        *testutil.SyncBuffer
}

// Binary returns the VPP binary the tests start: VPP_BINARY, or fakevpp
// (FAKEVPP_BINARY, else built from this module into the test's temp dir).
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv(EnvVPPBinary); b != "" {
		return b
	}
	if b := os.Getenv(EnvFakeVPPBinary); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			t.Fatalf("%s: %v", EnvFakeVPPBinary, err)
		}
		return abs
	}
	return BuildFakeVPP(t)
}

// BuildFakeVPP compiles the fakevpp command (cached by go's build cache).
func BuildFakeVPP(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fakevpp")
	cmd := exec.Command("go", "build", "-o", out, "github.com/calico-vpp/calico-vpp/test/fakevpp/cmd/fakevpp")
	cmd.Dir = moduleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fakevpp: %v\n%s", err, b)
	}
	return out
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// startupTemplate isolates each VPP: own runtime dir, API and stats
// sockets and API segment prefix; 4k pages so a real VPP reserves no
// hugepages; no pinned cores; dpdk off (uplinks come from the test).
const startupTemplate = `unix {
  nodaemon
  runtime-dir {{.Dir}}
  cli-listen {{.Dir}}/cli.sock
  pidfile {{.Dir}}/vpp.pid
  log {{.Dir}}/vpp.log
{{- if .Exec}}
  exec {{.Dir}}/startup.exec
{{- end}}
}
api-segment { prefix {{.Prefix}} }
statseg { socket-name {{.Dir}}/stats.sock }
socksvr { socket-name {{.Dir}}/api.sock }
cpu { }
buffers { page-size 4k buffers-per-numa 16384 }
memory { main-heap-page-size 4k main-heap-size 512M }
plugins {
{{- if .PluginPath}}
  path {{.PluginPath}}
{{- end}}
  plugin dpdk_plugin.so { disable }
}
{{.Extra}}
`

// Start runs a VPP (fakevpp or VPP_BINARY) in a network namespace and
// returns it connected. Everything is stopped and removed at cleanup.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	topo.RequirePrivileged(t)
	ns := opts.Netns
	if ns == nil {
		ns = topo.NewNetns(t, "vpp")
	}
	// A short directory: Unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "cvpp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	inst := &Instance{Dir: dir, Netns: ns, ConfigPath: filepath.Join(dir, "startup.conf"), APISocket: filepath.Join(dir, "api.sock"), log: &testutil.SyncBuffer{}}

	var conf bytes.Buffer
	err = template.Must(template.New("startup").Parse(startupTemplate)).Execute(&conf, map[string]any{
		"Dir": dir, "Prefix": filepath.Base(dir), "Exec": len(opts.Exec) > 0,
		"PluginPath": os.Getenv(EnvPluginPath), "Extra": opts.ExtraConfig,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inst.ConfigPath, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(opts.Exec) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "startup.exec"), []byte(strings.Join(opts.Exec, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	inst.cmd = exec.Command("ip", "netns", "exec", ns.Name, Binary(t), "-c", inst.ConfigPath)
	inst.cmd.Env = os.Environ()
	if p := os.Getenv(EnvLDLibraryPath); p != "" {
		inst.cmd.Env = append(inst.cmd.Env, "LD_LIBRARY_PATH="+p)
	}
	if opts.NoVhostNet {
		inst.cmd.Env = append(inst.cmd.Env, EnvFakeNoVhostNet+"=1")
	}
	inst.cmd.Stdout, inst.cmd.Stderr = inst.log, inst.log
	testutil.Detach(inst.cmd)
	if err := inst.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", inst.cmd.Path, err)
	}
	inst.exited = make(chan error, 1)
	inst.group.Go(func() error { inst.exited <- inst.cmd.Wait(); return nil })
	t.Cleanup(func() {
		inst.Stop(t)
		_ = inst.group.Wait()
		if t.Failed() {
			t.Logf("VPP output (%s):\n%s", dir, inst.log.String())
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Stop waiting for the socket if VPP exits first (a refused config).
	var watch errgroup.Group
	connected := make(chan struct{})
	watch.Go(func() error {
		select {
		case err := <-inst.exited:
			inst.exited <- err
			cancel()
		case <-connected:
		}
		return nil
	})
	v, err := vpplink.Connect(ctx, inst.APISocket, Logger(t), vpplink.ConnectOptions{})
	close(connected)
	_ = watch.Wait()
	if err != nil {
		t.Fatalf("connect to VPP at %s: %v\nVPP output:\n%s", inst.APISocket, err, inst.log.String())
	}
	inst.VPP = v
	return inst
}

// PID is the VPP process id.
func (i *Instance) PID() int { return i.cmd.Process.Pid }

// Signal sends sig to VPP.
func (i *Instance) Signal(sig syscall.Signal) error { return i.cmd.Process.Signal(sig) }

// Wait waits for VPP to exit and returns its exit error.
func (i *Instance) Wait(timeout time.Duration) (error, bool) {
	select {
	case err := <-i.exited:
		i.exited <- err
		return err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Output is what VPP printed so far.
func (i *Instance) Output() string { return i.log.String() }

// Stop closes the client, sends SIGTERM and, after a grace period, SIGKILL.
func (i *Instance) Stop(t testing.TB) {
	if i.VPP != nil {
		i.VPP.Close()
		i.VPP = nil
	}
	if _, done := i.Wait(0); done {
		return
	}
	_ = i.cmd.Process.Signal(syscall.SIGTERM)
	if _, done := i.Wait(defaultStopTimeout); done {
		return
	}
	_ = i.cmd.Process.Kill()
	if _, done := i.Wait(defaultStopTimeout); !done {
		t.Errorf("VPP pid %d did not exit after SIGKILL", i.cmd.Process.Pid)
	}
}

// ExitCode returns the process's exit status once it has exited.
func ExitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// String describes the instance.
func (i *Instance) String() string { return fmt.Sprintf("VPP in %s (%s)", i.Netns.Name, i.Dir) }
