// Package e2e runs Calico/VPP nodes (the real agent binary, VPP or
// fakevpp) against a real Kubernetes API server, in network namespaces
// the tests create and remove.
package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// routeVia renders VPP's route to prefix (vpptest.Paths, joined); ""
// when VPP has none.
func routeVia(t *testing.T, v *vpplink.VPP, prefix string) string {
	t.Helper()
	paths, err := vpptest.Paths(context.Background(), v, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(paths[prefix], ",")
}

// startNodes starts node-a and node-b (node.StartTwo); env goes to the
// agents.
func startNodes(t *testing.T, bin string, cp *cluster.ControlPlane, env ...string) (map[string]*node.Node, *topo.LAN) {
	t.Helper()
	nodes, lan := node.StartTwo(t, bin, cp, env...)
	start := time.Now()
	for _, n := range nodes {
		n.AwaitReady(t)
	}
	// Ready as soon as the peers' End-of-RIB came, not at the 60s sync
	// deadline.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the nodes took %s to be ready: End-of-RIB not seen?", d.Round(time.Second))
	}
	return nodes, lan
}

// Two nodes, each with vpp-manager and VPP on its uplink and the agent
// beside them, in a BGP mesh over their uplinks (through VPP and
// vpptap0), a pod on each through our CNI plugin: each node's VPP routes
// the other's pod CIDR through an IPIP tunnel to it (the pool says
// Always), and each pod has its interface. Then faults, and a pool mode
// change.
func TestTwoNodesMesh(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", node.TwoNodeObjects)
	// Host-local IPAM on the nodes' podCIDRs, which the agents advertise.
	nodes, lan := startNodes(t, bin, cp, "USE_POD_CIDR=true")
	pods := map[string]*node.Pod{}
	for name, cidr := range map[string]string{"node-a": "198.19.1.0/24", "node-b": "198.19.2.0/24"} {
		pod := nodes[name].RunPod(t, "web-"+name, node.OurPlugin)
		pods[name] = pod
		prefix := strings.TrimSuffix(cidr, "0/24")
		if addrs := pod.Addrs(t); !strings.Contains(addrs, prefix) {
			t.Errorf("pod on %s: eth0 %s, want an address of %s", name, addrs, cidr)
		}
	}
	awaitRoutes(t, nodes, "ipip")

	t.Run("our plugin: DEL removes the pod from VPP and releases its address", func(t *testing.T) {
		a := nodes["node-a"]
		pod := a.RunPod(t, "job-1", node.OurPlugin)
		ip := pod.IPs[0]
		if !a.HostLocalAllocated(ip) {
			t.Fatalf("host-local does not hold %s after ADD", ip)
		}
		awaitPodInterface(t, a, "default/job-1")
		pod.Delete(t)
		if a.HostLocalAllocated(ip) {
			t.Errorf("host-local still holds %s after DEL", ip)
		}
		if _, ok := findPodInterface(t, a, "default/job-1"); ok {
			t.Error("the pod's VPP interface is still there after DEL")
		}
		if via := routeVia(t, a.VPP(t), ip+"/32"); via != "" {
			t.Errorf("VPP still routes %s/32: %s", ip, via)
		}
	})

	if vpptest.RealVPP() {
		t.Run("pod to pod across the nodes, through the IPIP tunnel", func(t *testing.T) {
			a, b := pods["node-a"], pods["node-b"]
			if out, err := a.Netns.Output("ping", "-c", "3", "-W", "2", b.IPs[0]); err != nil {
				t.Errorf("ping %s: %v\n%s", b.IPs[0], err, out)
			}
			if err := topo.TCPTransfer(b.Netns, a.Netns, b.IPs[0]+":8080", 1<<20); err != nil {
				t.Errorf("TCP to %s: %v", b.IPs[0], err)
			}
		})
	}

	t.Run("the hosts keep their connectivity through VPP and vpptap0", func(t *testing.T) {
		a := nodes["node-a"].Netns
		for _, c := range []struct {
			to     *topo.Netns
			listen string
		}{{lan.Netns, node.RouterAddr + ":7000"}, {nodes["node-b"].Netns, "198.18.0.12:7000"}} {
			if err := topo.TCPTransfer(c.to, a, c.listen, 1<<20); err != nil {
				t.Errorf("node-a's host to %s: %v", c.listen, err)
			}
		}
	})

	t.Run("an agent killed and restarted: pods and routes stay", func(t *testing.T) {
		a, b := nodes["node-a"], nodes["node-b"]
		podIf := podInterface(t, a, "default/web-node-a")
		missing := restartWatchingRoute(t, a, b, "198.19.1.0/24")
		if len(missing) > 0 {
			t.Errorf("node-b lost the route to node-a's pods while node-a's agent restarted: %v", missing)
		}
		if got := podInterface(t, a, "default/web-node-a"); got != podIf {
			t.Errorf("the pod's interface was re-created: sw_if_index %d -> %d", podIf, got)
		}
		awaitRoutes(t, nodes, "ipip")
	})

	t.Run("VPP killed: Linux restored, then the pod back with its address", func(t *testing.T) {
		a := nodes["node-a"]
		before := a.Netns.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "vpptap0")
		podBefore := pods["node-a"].Addrs(t)
		a.KillVPP(t, func() {
			// vpp-manager gave eth0 back to Linux, with its address.
			if out := a.Netns.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "eth0"); !strings.Contains(out, "198.18.0.11/24") {
				t.Errorf("after VPP died, eth0 = %q, want 198.18.0.11/24 restored", out)
			}
		})
		a.AwaitReady(t)
		if after := a.Netns.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "vpptap0"); !strings.Contains(after, "198.18.0.11/24") {
			t.Errorf("vpptap0 after the restart = %q (before: %q)", after, before)
		}
		awaitPodInterface(t, a, "default/web-node-a")
		// Same addresses (a veth pod's peer index may change).
		eventually(t, 30*time.Second, "the pod's eth0 is back as it was", func() string {
			if got, _ := pods["node-a"].Netns.Output("ip", "-br", "addr", "show", "dev", "eth0"); addrsOf(got) != addrsOf(podBefore) {
				return fmt.Sprintf("eth0 = %q, want %q", got, podBefore)
			}
			return ""
		})
		awaitRoutes(t, nodes, "ipip")
	})

	t.Run("the pool switched to VXLAN with kubectl: routes follow", func(t *testing.T) {
		cp.Apply(t, strings.Replace(strings.Replace(node.PodsPool, "ipipMode: Always", "ipipMode: Never", 1), "vxlanMode: Never", "vxlanMode: Always", 1))
		awaitRoutes(t, nodes, "vxlan")
	})

	// The node IPAM controller may assign a podCIDR after the node's
	// agent started; the agent advertises it as soon as it appears.
	t.Run("a podCIDR assigned after the agent started is advertised", func(t *testing.T) {
		cp.Apply(t, `apiVersion: v1
kind: Node
metadata:
  name: node-c
  annotations:
    projectcalico.org/IPv4Address: 198.18.0.13/24
`)
		c := node.Start(t, node.Options{Name: "node-c", Bin: bin, ControlPlane: cp, LAN: lan, Addrs: []string{"198.18.0.13/24"},
			Gateway: node.RouterAddr, PodCIDR: "198.19.3.0/24", Env: []string{"USE_POD_CIDR=true"}})
		c.AwaitReady(t)
		if out, err := cp.Kubectl("patch", "node", "node-c", "-p", `{"spec": {"podCIDR": "198.19.3.0/24", "podCIDRs": ["198.19.3.0/24"]}}`); err != nil {
			t.Fatalf("assign node-c's podCIDR: %v\n%s", err, out)
		}
		eventually(t, 30*time.Second, "node-a routes node-c's podCIDR", func() string {
			if via := routeVia(t, nodes["node-a"].VPP(t), "198.19.3.0/24"); via != "vxlan->198.18.0.13" {
				return "route to 198.19.3.0/24 = " + via
			}
			return ""
		})
	})
}

// awaitRoutes waits until each node's VPP routes the other's pod CIDR
// through a tunnel of kind to it.
func awaitRoutes(t *testing.T, nodes map[string]*node.Node, kind string) {
	t.Helper()
	for name, want := range map[string]struct{ prefix, via string }{
		"node-a": {"198.19.2.0/24", kind + "->198.18.0.12"},
		"node-b": {"198.19.1.0/24", kind + "->198.18.0.11"},
	} {
		deadline := time.Now().Add(60 * time.Second)
		got := ""
		for time.Now().Before(deadline) {
			if got = routeVia(t, nodes[name].VPP(t), want.prefix); got == want.via {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got != want.via {
			_, status := nodes[name].Probe("/status")
			t.Fatalf("%s routes %s %q, want %q\nstatus: %s", name, want.prefix, got, want.via, status)
		}
	}
}

// podInterface is VPP's interface of the pod (by its tag).
func podInterface(t *testing.T, n *node.Node, pod string) vpplink.SwIfIndex {
	t.Helper()
	if i, ok := findPodInterface(t, n, pod); ok {
		return i
	}
	t.Fatalf("%s: no VPP interface for pod %s", n.Name, pod)
	return 0
}

func findPodInterface(t *testing.T, n *node.Node, pod string) (vpplink.SwIfIndex, bool) {
	t.Helper()
	ifs, err := n.VPP(t).Interfaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if strings.HasSuffix(i.Tag, " "+pod) {
			return i.SwIfIndex, true
		}
	}
	return 0, false
}

// awaitPodInterface waits until VPP has the pod's interface (after a VPP
// restart, the agent re-creates it).
func awaitPodInterface(t *testing.T, n *node.Node, pod string) vpplink.SwIfIndex {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if i, ok := findPodInterface(t, n, pod); ok {
			return i
		}
		if time.Now().After(deadline) {
			_, status := n.Probe("/status")
			t.Fatalf("%s: no VPP interface for pod %s\nstatus: %s", n.Name, pod, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// addrsOf is the address part of an `ip -br addr` line.
func addrsOf(brief string) string {
	f := strings.Fields(brief)
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[2:], " ")
}

// restartWatchingRoute SIGKILLs restarted's agent and starts it again,
// while it polls watcher's VPP for prefix every 100 ms; it returns when
// the agent is ready again, with the times the route was missing.
func restartWatchingRoute(t *testing.T, restarted, watcher *node.Node, prefix string) []string {
	t.Helper()
	v := watcher.VPP(t)
	var missing []string
	stop := make(chan struct{})
	var watch errgroup.Group
	watch.Go(func() error {
		for {
			paths, err := vpptest.Paths(context.Background(), v, prefix)
			if err != nil || len(paths[prefix]) == 0 {
				missing = append(missing, time.Now().Format(time.StampMilli))
			}
			select {
			case <-stop:
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	_ = restarted.Stop(t, syscall.SIGKILL)
	restarted.Restart(t)
	restarted.AwaitReady(t)
	// A withdrawal would follow the new session by a few hundred ms.
	time.Sleep(2 * time.Second)
	close(stop)
	_ = watch.Wait()
	return missing
}
