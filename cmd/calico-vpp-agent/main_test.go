package main

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
	"strings"
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

// The agent binary as the DaemonSet runs it, in a node's namespace: it
// follows the status vpp-manager publishes, reads a real API server
// (reached through a forward, as through the node's network), becomes
// ready, wires a pod that cnitool adds through calico-vpp-cni, installs
// felix-proxy, and stops cleanly on SIGTERM.
func TestAgentBinary(t *testing.T) {
	topo.RequirePrivileged(t)
	tools := cluster.RequireTools(t, "cnitool", "host-local")
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cp := cluster.StartControlPlane(t)
	cp.InstallCalico(t)
	cp.Apply(t, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n")

	bin := t.TempDir()
	agent := testutil.GoBuild(t, ".", "calico-vpp-agent")
	for _, b := range []struct{ pkg, name string }{{"../calico-vpp-cni", "calico-vpp-cni"}, {"../felix-proxy", "felix-proxy"}} {
		if err := os.Rename(testutil.GoBuild(t, b.pkg, b.name), filepath.Join(bin, b.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(agent, filepath.Join(bin, "calico-vpp-agent")); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"cnitool", "host-local"} {
		if err := os.Symlink(filepath.Join(tools, tool), filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}

	// The node: VPP (fakevpp, or VPP_BINARY) and the status vpp-manager
	// would publish for it.
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: true})
	src := &vpptest.Source{}
	src.Attach(t, inst)
	st := src.VPPStatus()
	st.VPPPID, st.Updated = inst.PID(), time.Now()
	runDir, stateDir, pluginsDir := t.TempDir(), t.TempDir(), t.TempDir()
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(runDir, vppstatus.StatusFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	apiURL, err := url.Parse(cp.Server)
	if err != nil {
		t.Fatal(err)
	}
	topo.Forward(t, inst.Netns, apiURL.Host, apiURL.Host)

	socket := filepath.Join(runDir, "cni-server.sock")
	cmd := exec.Command(filepath.Join(bin, "calico-vpp-agent"), "--kubeconfig", cp.Kubeconfig,
		"--health-listen", "127.0.0.1:9099", "--felix-plugins-dir", pluginsDir)
	cmd.Env = append(os.Environ(), "NODENAME=node-a", "CALICOVPP_RUN_DIR="+runDir, "CALICOVPP_STATE_DIR="+stateDir,
		"CALICOVPP_VPP_API_SOCKET="+inst.APISocket, "CALICOVPP_CNI_SERVER_SOCKET="+socket, "CALICOVPP_LOG_LEVEL=debug")
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	h, err := netns.GetFromName(inst.Netns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := nsutil.Start(h, cmd); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }() // ends with the agent, stopped below
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("agent output:\n%s", out.String())
		}
	})

	// Its health endpoint, inside the node's namespace.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nsutil.Do(h, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}}
	probe := func(path string) (int, string) {
		resp, err := client.Get("http://127.0.0.1:9099" + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, body := probe("/readiness")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not ready: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(pluginsDir, "felix-api-proxy")); err != nil {
		t.Errorf("felix-proxy not installed: %v", err)
	}

	// A pod through calico-vpp-cni, as the kubelet would add it.
	confDir, ipamDir := t.TempDir(), t.TempDir()
	conf := fmt.Sprintf(`{"cniVersion": "1.1.0", "name": "k8s-pod-network", "type": "calico-vpp-cni", "socket": "unix://%s",
		"ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "198.18.100.0/24"}]]}}`, socket, ipamDir)
	if err := os.WriteFile(filepath.Join(confDir, "10-calico-vpp.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := topo.NewNetns(t, "pod")
	cnitool := func(op string) (string, error) {
		c := exec.Command(filepath.Join(bin, "cnitool"), op, "k8s-pod-network", pod.Path())
		c.Env = append(os.Environ(), "CNI_PATH="+bin, "NETCONFPATH="+confDir, "CNI_IFNAME=eth0",
			"CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IgnoreUnknown=1")
		o, err := c.CombinedOutput()
		return string(o), err
	}
	if o, err := cnitool("add"); err != nil {
		t.Fatalf("cnitool add: %v\n%s", err, o)
	}
	if addrs := pod.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "eth0"); !strings.Contains(addrs, "198.18.100.") {
		t.Errorf("pod eth0: %s", addrs)
	}
	_, status := probe("/status")
	var compact bytes.Buffer
	_ = json.Compact(&compact, []byte(status))
	if s := compact.String(); !strings.Contains(s, `"pod":"default/web-0"`) || !strings.Contains(s, `"swIfIndex"`) || !strings.Contains(s, `"ready":"ready"`) {
		t.Errorf("/status does not show the wired pod: %s", status)
	}
	if o, err := cnitool("del"); err != nil {
		t.Fatalf("cnitool del: %v\n%s", err, o)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("agent exit on SIGTERM: %v", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Error("agent did not stop on SIGTERM")
	}
}
