// Package node runs a Calico/VPP node for end-to-end tests, as the
// calico-vpp-node pod runs on a real one: a network namespace whose uplink
// eth0 is plugged into the cluster's LAN, the real vpp-manager taking it
// over with its VPP (fakevpp, or VPP_BINARY), and the real calico-vpp-agent
// beside it, reaching the test API server through a forward. The harness
// plays the kubelet too: it restarts vpp-manager when it exits (the
// container's restart policy), and runs pods (pod.go).
package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Binaries the node runs, built by Build; the CNI tools come from
// hack/build-tools.sh.
var (
	nodeBinaries = []string{"vpp-manager", "calico-vpp-agent", "calico-vpp-cni", "felix-proxy", "calivppctl"}
	cniTools     = []string{"cnitool", "host-local", "calico", "calico-ipam"}
)

// EnvNodeBinaries names a directory with the node's binaries already
// built (make test sets it to bin/, built once for every test).
const EnvNodeBinaries = "CALICOVPP_NODE_BINARIES"

// Build builds the node's binaries into a directory, with the CNI tools
// beside them; with EnvNodeBinaries it links those instead.
func Build(t testing.TB, moduleRoot string) string {
	t.Helper()
	tools := cluster.RequireTools(t, cniTools...)
	bin := t.TempDir()
	prebuilt := os.Getenv(EnvNodeBinaries)
	for _, name := range nodeBinaries {
		out := filepath.Join(bin, name)
		if prebuilt != "" {
			if err := os.Symlink(filepath.Join(prebuilt, name), out); err != nil {
				t.Fatal(err)
			}
			continue
		}
		cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
		cmd.Dir = moduleRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
	}
	for _, tool := range cniTools {
		if err := os.Symlink(filepath.Join(tools, tool), filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// Options describe a node.
type Options struct {
	Name string
	Bin  string // from Build
	// ControlPlane is the API server the agent reads (forwarded into the
	// node's namespace at the same address).
	ControlPlane *cluster.ControlPlane
	// LAN gets the node's uplink eth0 with Addrs (the Node's BGP
	// addresses) and a default route via Gateway when set.
	LAN     *topo.LAN
	Addrs   []string
	Gateway string
	// PodCIDR is the range host-local allocates from for our CNI plugin.
	PodCIDR string
	// Env is added to the agent's environment.
	Env []string
}

// Node is a running node.
type Node struct {
	Name    string
	Netns   *topo.Netns
	RunDir  string // vpp-manager's and the agent's (status file, sockets)
	Socket  string // the agent's CNI server
	Plugins string // felix-plugins directory
	Bin     string
	cp      *cluster.ControlPlane
	podCIDR string
	// cniState holds the CNI configurations and host-local's allocations;
	// nodenameFile is what calico/node writes for Calico's CNI plugin.
	cniState     string
	nodenameFile string
	handle       netns.NsHandle
	http         *http.Client
	logDir       string

	manager *supervisor

	agentMu    sync.Mutex
	agent      *exec.Cmd
	agentOut   *testutil.SyncBuffer
	agentLog   io.Writer // agentOut and the log file
	agentDone  chan struct{}
	agentErr   error
	env        []string
	kubeconfig string
	owner      testing.TB

	vppMu  sync.Mutex
	vpp    *vpplink.VPP
	vppPID int
}

// Start brings the node up: the uplink, vpp-manager until VPP runs, then
// the agent (AwaitReady waits for it).
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	// A short directory: Unix socket paths are limited to 108 bytes.
	runDir, err := os.MkdirTemp("", "cvn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(runDir) })
	logDir := testutil.LogDir(t, o.Name)
	n := &Node{Name: o.Name, Netns: topo.NewNetns(t, "node"), RunDir: runDir, Plugins: t.TempDir(), Bin: o.Bin,
		cp: o.ControlPlane, podCIDR: o.PodCIDR, logDir: logDir, agentOut: &testutil.SyncBuffer{}, owner: t}
	n.agentLog = io.MultiWriter(n.agentOut, testutil.LogFile(t, logDir, "calico-vpp-agent.log"))
	n.Socket = filepath.Join(runDir, "cni-server.sock")
	n.cniState = t.TempDir()
	n.nodenameFile = filepath.Join(n.cniState, "nodename")
	if err := os.WriteFile(n.nodenameFile, []byte(o.Name), 0o644); err != nil {
		t.Fatal(err)
	}
	o.LAN.Plug(t, n.Netns, "eth0", o.Addrs...)
	if o.Gateway != "" {
		n.Netns.Run(t, "ip", "route", "add", "default", "via", o.Gateway)
	}
	if n.handle, err = netns.GetFromName(n.Netns.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.handle.Close() })
	api, err := url.Parse(o.ControlPlane.Server)
	if err != nil {
		t.Fatal(err)
	}
	topo.Forward(t, n.Netns, api.Host, api.Host)
	n.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: n.dial}}

	vppNetns := topo.UniqueName("cvnvpp")
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", vppNetns).Run() })
	managerEnv := append(append(os.Environ(),
		"NODENAME="+o.Name,
		`CALICOVPP_INTERFACES={"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"af_packet"}],"vppHostTapSpec":{"interconnect":"auto"}}`,
		"CALICOVPP_CONFIG_TEMPLATE="+vpptest.ManagedTemplate(filepath.Base(runDir)),
		"CALICOVPP_VPP_STARTUP_CONF="+filepath.Join(runDir, "startup.conf"),
		"CALICOVPP_VPP_API_SOCKET="+filepath.Join(runDir, "api.sock"),
		"CALICOVPP_VPP_NETNS="+vppNetns,
		"CALICOVPP_RUN_DIR="+runDir,
		"CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT=5s",
		"CALICOVPP_TAP0_ADDR=198.18.255.1/32",
		"CALICOVPP_LOG_LEVEL=debug",
	), vpptest.ManagedEnv(t)...)
	n.manager = supervise(t, n.handle, filepath.Join(o.Bin, "vpp-manager"), managerEnv, testutil.LogFile(t, logDir, "vpp-manager.log"))
	t.Cleanup(n.closeVPP) // before VPP stops: govpp's health probe would complain
	n.AwaitVPP(t, time.Time{})

	n.env = append(append(os.Environ(), "NODENAME="+o.Name, "CALICOVPP_RUN_DIR="+runDir, "CALICOVPP_STATE_DIR="+t.TempDir(),
		"CALICOVPP_VPP_API_SOCKET="+filepath.Join(runDir, "api.sock"), "CALICOVPP_CNI_SERVER_SOCKET="+n.Socket,
		"CALICOVPP_LOG_LEVEL=debug"), o.Env...)
	n.kubeconfig = o.ControlPlane.Kubeconfig
	if len(o.Addrs) > 0 {
		addr, _, _ := strings.Cut(o.Addrs[0], "/")
		n.reportReady(t, addr)
	}
	n.startAgent(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent of %s (all in %s):\n%s", n.Name, logDir, tail(n.agentOut.String(), 60))
			t.Logf("vpp-manager of %s:\n%s", n.Name, tail(n.manager.out.String(), 30))
		}
	})
	return n
}

func tail(s string, lines int) string {
	l := bytes.Split([]byte(s), []byte("\n"))
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return string(bytes.Join(l, []byte("\n")))
}

// Status is what vpp-manager last published.
func (n *Node) Status() (vppstatus.Status, error) {
	return vppstatus.Read(filepath.Join(n.RunDir, vppstatus.StatusFile))
}

// AwaitVPP waits until vpp-manager reports VPP running with a status
// written after since.
func (n *Node) AwaitVPP(t testing.TB, since time.Time) vppstatus.Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := n.Status()
		if err == nil && st.State == vppstatus.StateRunning && st.Updated.After(since) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: VPP not running (%+v, %v)\nvpp-manager:\n%s", n.Name, st, err, tail(n.manager.out.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// VPP is a connection to the node's VPP, made again when VPP restarted.
func (n *Node) VPP(t testing.TB) *vpplink.VPP {
	t.Helper()
	st := n.AwaitVPP(t, time.Time{})
	n.vppMu.Lock()
	defer n.vppMu.Unlock()
	if n.vpp != nil && n.vppPID == st.VPPPID {
		return n.vpp
	}
	if n.vpp != nil {
		n.vpp.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := vpplink.Connect(ctx, st.APISocket, vpptest.Logger(t), vpplink.ConnectOptions{})
	if err != nil {
		t.Fatalf("%s: connect to VPP: %v", n.Name, err)
	}
	n.vpp, n.vppPID = v, st.VPPPID
	return v
}

func (n *Node) closeVPP() {
	n.vppMu.Lock()
	defer n.vppMu.Unlock()
	if n.vpp != nil {
		n.vpp.Close()
		n.vpp = nil
	}
}

// KillVPP kills VPP (SIGKILL) and returns when the restarted vpp-manager
// reports a new VPP running; restored is called between the two, once
// vpp-manager gave the uplink back to Linux.
func (n *Node) KillVPP(t testing.TB, restored func()) vppstatus.Status {
	t.Helper()
	st := n.AwaitVPP(t, time.Time{})
	exits := n.manager.hold()
	defer n.manager.resume() // also when the checks below fail
	if err := syscall.Kill(st.VPPPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.manager.awaitExits(t, exits+1)
	if restored != nil {
		restored()
	}
	n.manager.resume()
	return n.AwaitVPP(t, st.Updated)
}

// startAgent runs a new agent process (killed when the node's test ends,
// whichever subtest started it).
func (n *Node) startAgent(t testing.TB) {
	t.Helper()
	cmd := exec.Command(filepath.Join(n.Bin, "calico-vpp-agent"), "--kubeconfig", n.kubeconfig,
		"--health-listen", "127.0.0.1:9099", "--felix-plugins-dir", n.Plugins)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = n.agentLog, n.agentLog
	testutil.Detach(cmd)
	if err := nsutil.Start(n.handle, cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	n.agentMu.Lock()
	n.agent, n.agentDone = cmd, done
	n.agentMu.Unlock()
	go func() { // ends with the agent, killed at cleanup
		err := cmd.Wait()
		n.agentMu.Lock()
		n.agentErr = err
		n.agentMu.Unlock()
		close(done)
	}()
	n.owner.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
}

// Restart starts the agent again after Stop (its state directory, pods
// and VPP stay).
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.startAgent(t)
}

// dial connects from inside the node's namespace.
func (n *Node) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := nsutil.Do(n.handle, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Probe GETs one of the agent's health endpoints.
func (n *Node) Probe(path string) (int, string) {
	resp, err := n.http.Get("http://127.0.0.1:9099" + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// AwaitReady waits for /readiness.
func (n *Node) AwaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, body := n.Probe("/readiness")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %d %s", n.Name, code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop signals the agent and waits for it (at most 30s); it returns the
// agent's exit error.
func (n *Node) Stop(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	n.agentMu.Lock()
	cmd, done := n.agent, n.agentDone
	n.agentMu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-done:
		n.agentMu.Lock()
		defer n.agentMu.Unlock()
		return n.agentErr
	case <-time.After(30 * time.Second):
		t.Errorf("agent of %s did not stop on %s", n.Name, sig)
		return nil
	}
}

// Output is what the agent logged so far.
func (n *Node) Output() string { return n.agentOut.String() }

// Exec runs a command inside the node's namespace (calivppctl, birdc...).
func (n *Node) Exec(args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "CALICOVPP_RUN_DIR="+n.RunDir, "CALICOVPP_VPP_API_SOCKET="+filepath.Join(n.RunDir, "api.sock"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	testutil.Detach(cmd)
	if err := nsutil.Start(n.handle, cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

// supervisor runs vpp-manager as the kubelet runs a container with
// restartPolicy Always: started again a second after it exits, until the
// test ends (SIGTERM then, so that it restores Linux). A fault test can
// hold the restart while it inspects the node.
type supervisor struct {
	out  *testutil.SyncBuffer
	wake chan struct{}
	done chan struct{}

	mu       sync.Mutex
	cmd      *exec.Cmd // the running vpp-manager; nil between runs
	exited   int
	held     bool
	stopping bool
}

func supervise(t testing.TB, ns netns.NsHandle, binary string, env []string, log io.Writer) *supervisor {
	t.Helper()
	s := &supervisor{out: &testutil.SyncBuffer{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	out := io.MultiWriter(s.out, log)
	start := func() (*exec.Cmd, error) {
		cmd := exec.Command(binary)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = out, out
		testutil.Detach(cmd)
		return cmd, nsutil.Start(ns, cmd)
	}
	first, err := start()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = first
	go func() { // the restart loop; ends once stopping
		defer close(s.done)
		for cmd := first; ; {
			err := cmd.Wait()
			fmt.Fprintf(out, "--- vpp-manager exited: %v\n", err)
			s.mu.Lock()
			s.exited++
			s.cmd = nil
			s.mu.Unlock()
			for {
				select {
				case <-s.wake:
				case <-time.After(time.Second):
				}
				s.mu.Lock()
				if s.stopping {
					s.mu.Unlock()
					return
				}
				if s.held {
					s.mu.Unlock()
					continue
				}
				// Started under the lock: the cleanup sees either no new
				// run or this one.
				next, err := start()
				if err != nil {
					s.mu.Unlock()
					fmt.Fprintf(out, "--- restart vpp-manager: %v\n", err)
					return
				}
				s.cmd, cmd = next, next
				s.mu.Unlock()
				break
			}
		}
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.stopping = true
		cmd := s.cmd
		s.mu.Unlock()
		s.poke()
		if cmd != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			if cmd != nil {
				_ = cmd.Process.Kill()
			}
			<-s.done
		}
	})
	return s
}

func (s *supervisor) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// hold stops restarts until resume, and returns how many runs ended so
// far.
func (s *supervisor) hold() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
	return s.exited
}

func (s *supervisor) awaitExits(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := s.exited
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vpp-manager did not exit:\n%s", tail(s.out.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *supervisor) resume() {
	s.mu.Lock()
	s.held = false
	s.mu.Unlock()
	s.poke()
}

// Cluster is what every end-to-end test starts with: the node binaries
// built (moduleRoot: the module, relative to the test's directory) and a
// control plane with Calico's CRDs and objects applied. It skips where
// namespaces cannot be made, and with -short.
func Cluster(t *testing.T, moduleRoot, objects string) (bin string, cp *cluster.ControlPlane) {
	t.Helper()
	topo.RequirePrivileged(t)
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	bin = Build(t, moduleRoot)
	cp = cluster.StartControlPlane(t)
	cp.InstallCalico(t)
	cp.Apply(t, objects)
	return bin, cp
}
