// Package node runs a Calico/VPP node for end-to-end tests: a network
// namespace with its VPP (fakevpp, or VPP_BINARY) and the status
// vpp-manager would publish for it, and the real calico-vpp-agent binary
// inside, reaching the test API server through a forward. Pods are added
// with cnitool through calico-vpp-cni, as a kubelet would.
package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Build builds the node's binaries into a directory, with cnitool and
// host-local beside them (from the tools make test builds).
func Build(t testing.TB, moduleRoot string) string {
	t.Helper()
	tools := cluster.RequireTools(t, "cnitool", "host-local")
	bin := t.TempDir()
	for _, name := range []string{"calico-vpp-agent", "calico-vpp-cni", "felix-proxy"} {
		out := filepath.Join(bin, name)
		cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
		cmd.Dir = moduleRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
	}
	for _, tool := range []string{"cnitool", "host-local"} {
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
	// LAN, when set, gets the node's management interface eth1 with
	// MgmtAddrs: its BGP sessions run there.
	LAN       *topo.LAN
	MgmtAddrs []string
	// Env is added to the agent's environment.
	Env []string
}

// Node is a running node.
type Node struct {
	Name    string
	Netns   *topo.Netns
	VPP     *vpptest.Instance
	RunDir  string
	Socket  string // the agent's CNI server
	Plugins string // felix-plugins directory
	bin     string
	handle  netns.NsHandle
	cmd     *exec.Cmd
	out     *testutil.SyncBuffer
	exited  chan struct{}
	waitErr error
	confDir string
	ipamDir string
	http    *http.Client
	// env and kubeconfig start the agent again (Restart); owner is the
	// test the node lives as long as.
	env        []string
	kubeconfig string
	owner      testing.TB
}

// Start brings the node up and starts its agent (Ready waits for it).
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: true})
	n := &Node{Name: o.Name, Netns: inst.Netns, VPP: inst, RunDir: t.TempDir(), Plugins: t.TempDir(), bin: o.Bin,
		out: &testutil.SyncBuffer{}, confDir: t.TempDir(), ipamDir: t.TempDir()}
	n.Socket = filepath.Join(n.RunDir, "cni-server.sock")
	if o.LAN != nil {
		o.LAN.Plug(t, n.Netns, "eth1", o.MgmtAddrs...)
	}
	src := &vpptest.Source{}
	src.Attach(t, inst)
	st := src.VPPStatus()
	st.VPPPID, st.Updated = inst.PID(), time.Now()
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(n.RunDir, vppstatus.StatusFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	api, err := url.Parse(o.ControlPlane.Server)
	if err != nil {
		t.Fatal(err)
	}
	topo.Forward(t, n.Netns, api.Host, api.Host)
	if n.handle, err = netns.GetFromName(n.Netns.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.handle.Close() })
	n.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: n.dial}}

	n.env = append(append(os.Environ(), "NODENAME="+o.Name, "CALICOVPP_RUN_DIR="+n.RunDir, "CALICOVPP_STATE_DIR="+t.TempDir(),
		"CALICOVPP_VPP_API_SOCKET="+inst.APISocket, "CALICOVPP_CNI_SERVER_SOCKET="+n.Socket, "CALICOVPP_LOG_LEVEL=debug"), o.Env...)
	n.kubeconfig, n.owner = o.ControlPlane.Kubeconfig, t
	n.startAgent(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent of %s:\n%s", n.Name, tail(n.out.String(), 60))
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

// startAgent runs a new agent process (killed when the node's test ends,
// whichever subtest started it).
func (n *Node) startAgent(t testing.TB) {
	t.Helper()
	n.cmd = exec.Command(filepath.Join(n.bin, "calico-vpp-agent"), "--kubeconfig", n.kubeconfig,
		"--health-listen", "127.0.0.1:9099", "--felix-plugins-dir", n.Plugins)
	n.cmd.Env = n.env
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := nsutil.Start(n.handle, n.cmd); err != nil {
		t.Fatal(err)
	}
	cmd, exited := n.cmd, make(chan struct{})
	n.exited = exited
	go func() { n.waitErr = cmd.Wait(); close(exited) }() // ends with the agent, killed at cleanup
	n.owner.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
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

// CNI runs cnitool op (add, check, del) for the pod netns, with
// calico-vpp-cni and host-local IPAM on subnet, as the kubelet would.
func (n *Node) CNI(op string, pod *topo.Netns, podName, subnet string) (string, error) {
	conf := fmt.Sprintf(`{"cniVersion": "1.1.0", "name": "k8s-pod-network", "type": "calico-vpp-cni", "socket": "unix://%s",
		"ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]]}}`, n.Socket, n.ipamDir, subnet)
	if err := os.WriteFile(filepath.Join(n.confDir, "10-calico-vpp.conf"), []byte(conf), 0o644); err != nil {
		return "", err
	}
	c := exec.Command(filepath.Join(n.bin, "cnitool"), op, "k8s-pod-network", pod.Path())
	c.Env = append(os.Environ(), "CNI_PATH="+n.bin, "NETCONFPATH="+n.confDir, "CNI_IFNAME=eth0",
		"CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME="+podName+";IgnoreUnknown=1")
	out, err := c.CombinedOutput()
	return string(out), err
}

// Stop signals the agent and waits for it (at most 30s); it returns the
// agent's exit error.
func (n *Node) Stop(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-n.exited:
		return n.waitErr
	case <-time.After(30 * time.Second):
		t.Errorf("agent of %s did not stop on %s", n.Name, sig)
		return nil
	}
}

// Output is what the agent logged so far.
func (n *Node) Output() string { return n.out.String() }

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
