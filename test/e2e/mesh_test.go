// Package e2e runs Calico/VPP nodes (the real agent binary, VPP or
// fakevpp) against a real Kubernetes API server, in network namespaces
// the tests create and remove.
package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

const meshObjects = `apiVersion: v1
kind: Node
metadata:
  name: node-a
  annotations:
    projectcalico.org/IPv4Address: 198.18.0.11/24
spec:
  podCIDR: 198.19.1.0/24
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  annotations:
    projectcalico.org/IPv4Address: 198.18.0.12/24
spec:
  podCIDR: 198.19.2.0/24
---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 198.19.0.0/16
  ipipMode: Always
  vxlanMode: Never
  nodeSelector: all()
`

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

// Two nodes, the BGP mesh between their agents (over their management
// interfaces), a pod on each through the CNI: each node's VPP routes the
// other's pod CIDR through an IPIP tunnel to it (the pool says Always),
// and each pod has its interface.
func TestTwoNodesMesh(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", meshObjects)
	lan := topo.NewLAN(t)
	nodes := map[string]*node.Node{}
	for _, n := range []struct{ name, mgmt string }{{"node-a", "198.18.0.11/24"}, {"node-b", "198.18.0.12/24"}} {
		nodes[n.name] = node.Start(t, node.Options{Name: n.name, Bin: bin, ControlPlane: cp, LAN: lan,
			MgmtAddrs: []string{n.mgmt}, Env: []string{"USE_POD_CIDR=true"}})
	}
	start := time.Now()
	for _, n := range nodes {
		n.AwaitReady(t)
	}
	// Ready as soon as the peers' End-of-RIB came, not at the 60s sync
	// deadline.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the nodes took %s to be ready: End-of-RIB not seen?", d.Round(time.Second))
	}
	for name, cidr := range map[string]string{"node-a": "198.19.1.0/24", "node-b": "198.19.2.0/24"} {
		pod := topo.NewNetns(t, "pod")
		if out, err := nodes[name].CNI("add", pod, "web-"+name, cidr); err != nil {
			t.Fatalf("cnitool add on %s: %v\n%s", name, err, out)
		}
		prefix := strings.TrimSuffix(cidr, "0/24")
		if addrs := pod.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "eth0"); !strings.Contains(addrs, prefix) {
			t.Errorf("pod on %s: eth0 %s, want an address of %s", name, addrs, cidr)
		}
	}
	awaitRoutes(t, nodes, "ipip")

	t.Run("an agent killed and restarted: pods and routes stay", func(t *testing.T) {
		a, b := nodes["node-a"], nodes["node-b"]
		podIf := podInterface(t, a, "default/web-node-a")
		var missing []string
		stop := make(chan struct{})
		var watch errgroup.Group
		watch.Go(func() error {
			for {
				if via := routeVia(t, b.VPP.VPP, "198.19.1.0/24"); via == "" {
					missing = append(missing, time.Now().Format(time.StampMilli))
				}
				select {
				case <-stop:
					return nil
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
		_ = a.Stop(t, syscall.SIGKILL)
		a.Restart(t)
		a.AwaitReady(t)
		close(stop)
		_ = watch.Wait()
		if len(missing) > 0 {
			t.Errorf("node-b lost the route to node-a's pods while node-a's agent restarted: %v", missing)
		}
		if got := podInterface(t, a, "default/web-node-a"); got != podIf {
			t.Errorf("the pod's interface was re-created: sw_if_index %d -> %d", podIf, got)
		}
		awaitRoutes(t, nodes, "ipip")
	})

	t.Run("the pool switched to VXLAN with kubectl: routes follow", func(t *testing.T) {
		cp.Apply(t, strings.Replace(strings.Replace(meshObjects[strings.Index(meshObjects, "apiVersion: crd"):],
			"ipipMode: Always", "ipipMode: Never", 1), "vxlanMode: Never", "vxlanMode: Always", 1))
		awaitRoutes(t, nodes, "vxlan")
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
			if got = routeVia(t, nodes[name].VPP.VPP, want.prefix); got == want.via {
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
	ifs, err := n.VPP.VPP.Interfaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if strings.HasSuffix(i.Tag, " "+pod) {
			return i.SwIfIndex
		}
	}
	t.Fatalf("%s: no VPP interface for pod %s", n.Name, pod)
	return 0
}
