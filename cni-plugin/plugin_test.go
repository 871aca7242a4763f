package cniplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/cni"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func buildPlugin(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "calico-vpp-cni"), "../cmd/calico-vpp-cni").CombinedOutput()
	if err != nil {
		t.Fatalf("build the plugin: %v\n%s", err, out)
	}
	for _, tool := range []string{"host-local", "cnitool"} {
		src, err := filepath.Abs(filepath.Join("..", "test", "tools", "bin", tool))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("%s is missing: run `make tools` (make test does): %v", tool, err)
		}
		if err := os.Symlink(src, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
}

// cnitool drives the plugin as a container runtime would, with host-local
// IPAM, against the agent's CNI server wiring pods into VPP (fakevpp, or
// VPP_BINARY).
func TestCNIToolAddCheckDel(t *testing.T) {
	topo.RequirePrivileged(t)
	bin, confDir, ipamDir := t.TempDir(), t.TempDir(), t.TempDir()
	buildPlugin(t, bin)

	cfg, _, err := config.Load([]string{"NODENAME=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cni.OpenStore(filepath.Join(t.TempDir(), "pods.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst := vpptest.Start(t, vpptest.Options{})
	src := &vpptest.Source{}
	src.Attach(t, inst)
	log := vpptest.Logger(t)
	rec := reconcile.New(reconcile.Options{Log: log, MinInterval: 5 * time.Millisecond})
	rec.AddInput(cni.InputPods)
	dp := cni.NewVPPDataplane(rec, cni.NewPodKind(src, false, log), nil, 30*time.Second)
	srv := cni.NewServer(&cfg.Interfaces, store, dp, log)
	socket := filepath.Join(t.TempDir(), "cni-server.sock")
	mgr := cni.NewManager(store, srv, dp, socket, func() { rec.InputSynced(cni.InputPods) }, log)
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return rec.Run(ctx) })
	g.Go(func() error { return mgr.Run(ctx) })
	t.Cleanup(func() { cancel(); _ = g.Wait() })

	conf := fmt.Sprintf(`{"cniVersion": "1.1.0", "name": "cvpp-test", "type": "calico-vpp-cni", "socket": "unix://%s", "mtu": 1400,
		"ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "198.18.100.0/24"}], [{"subnet": "2001:db8:100::/64"}]]}}`, socket, ipamDir)
	if err := os.WriteFile(filepath.Join(confDir, "10-cvpp.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := topo.NewNetns(t, "pod")
	cnitool := func(cmd string) (string, error) {
		c := exec.Command(filepath.Join(bin, "cnitool"), cmd, "cvpp-test", pod.Path())
		c.Env = append(os.Environ(), "CNI_PATH="+bin, "NETCONFPATH="+confDir, "CNI_IFNAME=eth0",
			"CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IgnoreUnknown=1")
		out, err := c.CombinedOutput()
		return string(out), err
	}

	out, err := cnitool("add")
	for i := 0; err != nil && strings.Contains(out, "connect") && i < 50; i++ { // the server may still be starting
		out, err = cnitool("add")
	}
	if err != nil {
		t.Fatalf("cnitool add: %v\n%s", err, out)
	}
	var result struct {
		Interfaces []struct{ Name, Mac, Sandbox string }
		IPs        []struct{ Address string }
		Routes     []struct{ Dst string }
	}
	if err := json.Unmarshal([]byte(out), &result); err != nil {
		t.Fatalf("result %q: %v", out, err)
	}
	if len(result.Interfaces) != 1 || result.Interfaces[0].Name != "eth0" || result.Interfaces[0].Sandbox != pod.Path() {
		t.Errorf("interfaces = %+v", result.Interfaces)
	}
	if _, err := net.ParseMAC(result.Interfaces[0].Mac); err != nil {
		t.Errorf("MAC %q: %v", result.Interfaces[0].Mac, err)
	}
	if len(result.IPs) != 2 || !strings.HasPrefix(result.IPs[0].Address, "198.18.100.") || !strings.HasSuffix(result.IPs[0].Address, "/32") ||
		!strings.HasSuffix(result.IPs[1].Address, "/128") {
		t.Errorf("ips = %+v", result.IPs)
	}
	if len(result.Routes) != 2 || result.Routes[0].Dst != "0.0.0.0/0" || result.Routes[1].Dst != "::/0" {
		t.Errorf("routes = %+v", result.Routes)
	}
	v4 := strings.TrimSuffix(result.IPs[0].Address, "/32")
	if got := pod.Run(t, "ip", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(got, v4+"/32") {
		t.Errorf("pod eth0:\n%s\nlacks %s", got, v4)
	}
	if got := pod.Run(t, "ip", "-4", "route"); !strings.Contains(got, "default via 169.254.1.1 dev eth0") {
		t.Errorf("pod routes:\n%s", got)
	}
	recorded := store.List()
	if len(recorded) != 1 || recorded[0].Workload.Pod != "web-0" || recorded[0].MTU != 1400 {
		t.Fatalf("agent recorded %+v", recorded)
	}
	if idx, ok := dp.SwIfIndex(recorded[0].Key); !ok {
		t.Error("VPP has no interface for the pod")
	} else if vif, err := inst.VPP.Interface(ctx, idx); err != nil || !strings.Contains(vif.Tag, "default/web-0") || !vif.AdminUp {
		t.Errorf("VPP's pod interface = %+v, %v", vif, err)
	}

	if out, err := cnitool("check"); err != nil {
		t.Errorf("cnitool check: %v\n%s", err, out)
	}
	// CHECK notices a pod that lost its interface.
	pod.Run(t, "ip", "link", "del", "eth0")
	if out, err := cnitool("check"); err == nil || !strings.Contains(out, "interface eth0") {
		t.Errorf("cnitool check without eth0 = %v\n%s", err, out)
	}

	if out, err := cnitool("del"); err != nil {
		t.Fatalf("cnitool del: %v\n%s", err, out)
	}
	if len(store.List()) != 0 {
		t.Errorf("agent still records %+v", store.List())
	}
	if _, ok := dp.SwIfIndex(recorded[0].Key); ok {
		t.Error("VPP still has the pod's interface")
	}
	if _, err := os.Stat(filepath.Join(ipamDir, "cvpp-test", v4)); err == nil {
		t.Errorf("host-local still holds %s", v4)
	}
	if out, err := cnitool("del"); err != nil {
		t.Errorf("second cnitool del: %v\n%s (DEL is idempotent)", err, out)
	}
}

// A configuration error names the key and value.
func TestBadNetworkConfiguration(t *testing.T) {
	bin := t.TempDir()
	buildPlugin(t, bin)
	cases := []struct{ conf, want string }{
		{`{"cniVersion": "1.1.0", "name": "n", "type": "calico-vpp-cni", "socket": "/run/x.sock", "ipam": {"type": "host-local"}}`, `/run/x.sock\": want unix:///path`},
		{`{"cniVersion": "1.1.0", "name": "n", "type": "calico-vpp-cni"}`, "ipam.type is required"},
		{`{"cniVersion": "1.1.0", "name": "n", "type": "calico-vpp-cni", "mtu": -1, "ipam": {"type": "host-local"}}`, "mtu -1"},
	}
	for _, c := range cases {
		cmd := exec.Command(filepath.Join(bin, "calico-vpp-cni"))
		cmd.Env = append(os.Environ(), "CNI_COMMAND=ADD", "CNI_CONTAINERID=x", "CNI_NETNS=/var/run/netns/none", "CNI_IFNAME=eth0", "CNI_PATH="+bin)
		cmd.Stdin = strings.NewReader(c.conf)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("ADD with %s = %v\n%s\nwant an error with %q", c.conf, err, out, c.want)
		}
	}
}

// `calico-vpp-cni install`, as the overlay's init container runs it:
// the binary and a network configuration list the runtime loads, in
// the node's CNI directories; bad input names the flag.
func TestInstall(t *testing.T) {
	bin := testutil.GoBuild(t, "../cmd/calico-vpp-cni", "calico-vpp-cni")
	binDir, confDir := t.TempDir(), t.TempDir()
	out, err := exec.Command(bin, "install", "--bin-dir", binDir, "--conf-dir", confDir, "--mtu", "1400",
		"--ipam", `{"type": "host-local", "ranges": [[{"subnet": "198.18.100.0/24"}]]}`).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	installed := filepath.Join(binDir, "calico-vpp-cni")
	if st, err := os.Stat(installed); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed binary: %v %v", st, err)
	}
	list, err := libcni.ConfListFromFile(filepath.Join(confDir, "10-calico-vpp.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	if list.Name != "k8s-pod-network" || len(list.Plugins) != 1 || list.Plugins[0].Network.Type != "calico-vpp-cni" ||
		!strings.Contains(string(list.Plugins[0].Bytes), `"socket":"unix:///var/run/calico/cni-server.sock"`) ||
		!strings.Contains(string(list.Plugins[0].Bytes), `"mtu":1400`) || list.Plugins[0].Network.IPAM.Type != "host-local" {
		t.Errorf("configuration: %s %s", list.Name, list.Plugins[0].Bytes)
	}
	version := exec.Command(installed)
	version.Env = append(os.Environ(), "CNI_COMMAND=VERSION")
	version.Stdin = strings.NewReader(`{"cniVersion": "1.1.0"}`)
	if out, err := version.Output(); err != nil || !strings.Contains(string(out), `"1.1.0"`) {
		t.Errorf("installed plugin VERSION: %v %s", err, out)
	}
	if out, err := exec.Command(bin, "install", "--bin-dir", binDir, "--conf-dir", confDir, "--ipam", "{nope").CombinedOutput(); err == nil || !strings.Contains(string(out), `ipam: "{nope" is not JSON`) {
		t.Errorf("bad --ipam: %v %s", err, out)
	}
}
