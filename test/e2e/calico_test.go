package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// kubectlGet runs kubectl get with a jsonpath output.
func kubectlGet(t *testing.T, cp *cluster.ControlPlane, jsonpath string, args ...string) string {
	t.Helper()
	out, err := cp.Kubectl(append(append([]string{"get"}, args...), "-o", "jsonpath="+jsonpath)...)
	if err != nil {
		t.Fatalf("kubectl get %v: %v\n%s", args, err, out)
	}
	return out
}

// eventually retries check until it returns "" (or fails the test with
// its last answer after timeout).
func eventually(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// blockOf is the IPAM block affine to nodeName that holds ip ("" if none).
func blockOf(t *testing.T, cp *cluster.ControlPlane, nodeName, ip string) string {
	t.Helper()
	addr := netip.MustParseAddr(ip)
	out := kubectlGet(t, cp, `{range .items[*]}{.spec.node} {.spec.cidr} {.spec.state}{"\n"}{end}`, "blockaffinities.crd.projectcalico.org")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != nodeName {
			continue
		}
		if p, err := netip.ParsePrefix(f[1]); err == nil && p.Contains(addr) {
			return f[1]
		}
	}
	return ""
}

// Pods through Calico's own CNI plugin and calico-ipam, the real client of
// the agent's CNI server: the address comes from an IPAM block affine to
// the node, the block is advertised to the other node (routed through the
// tunnel), the pod's interface carries the Calico result, Calico records
// the pod's IP on the Pod, the EndpointSlice controller follows the Pod's
// status, and DEL gives the address back.
func TestCalicoCNI(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", node.TwoNodeObjects)
	nodes, _ := startNodes(t, bin, cp)
	pods := map[string]*node.Pod{}
	for _, name := range []string{"node-a", "node-b"} {
		pods[name] = nodes[name].RunPod(t, "db-"+name, node.CalicoPlugin)
	}
	a := pods["node-a"]
	ip := a.IPs[0]
	if !netip.MustParsePrefix("198.19.128.0/18").Contains(netip.MustParseAddr(ip)) {
		t.Fatalf("calico-ipam gave %s, not an address of the ipam pool", ip)
	}
	if addrs := a.Addrs(t); !strings.Contains(addrs, ip+"/32") {
		t.Errorf("pod eth0 = %q, want the Calico result %s/32", addrs, ip)
	}
	block := blockOf(t, cp, "node-a", ip)
	if block == "" {
		t.Fatalf("no IPAM block affine to node-a holds %s", ip)
	}
	// The agent pushes the pod's /32 into VPP through its interface.
	podIf := podInterface(t, nodes["node-a"], "default/db-node-a")
	if via := routeVia(t, nodes["node-a"].VPP(t), ip+"/32"); via == "" {
		t.Errorf("node-a's VPP has no route to its pod %s (interface %d)", ip, podIf)
	}
	// node-b learns the block over BGP and routes it to node-a.
	eventually(t, 60*time.Second, "node-b routes node-a's IPAM block", func() string {
		if via := routeVia(t, nodes["node-b"].VPP(t), block); via != "ipip->198.18.0.11" {
			return "route to " + block + " = " + via
		}
		return ""
	})
	if got := kubectlGet(t, cp, `{.metadata.annotations.cni\.projectcalico\.org/podIP}`, "pod", "db-node-a"); got != ip+"/32" {
		t.Errorf("Calico's podIP annotation = %q, want %s/32", got, ip)
	}

	cp.Apply(t, `apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  selector: {app: db-node-a}
  ports: [{port: 5432, protocol: TCP}]
`)
	eventually(t, 30*time.Second, "the EndpointSlice of service db lists the pod", func() string {
		got := kubectlGet(t, cp, `{.items[*].endpoints[*].addresses[*]}`, "endpointslices", "-l", "kubernetes.io/service-name=db")
		if strings.TrimSpace(got) != ip {
			return "endpoints: " + got
		}
		return ""
	})

	if vpptest.RealVPP() {
		// Only a real VPP forwards pod traffic.
		b := pods["node-b"]
		if out, err := a.Netns.Output("ping", "-c", "3", "-W", "2", b.IPs[0]); err != nil {
			t.Errorf("pod on node-a pings the pod on node-b: %v\n%s", err, out)
		}
		if err := topo.TCPTransfer(b.Netns, a.Netns, b.IPs[0]+":8080", 1<<20); err != nil {
			t.Errorf("TCP from the pod on node-a to the pod on node-b: %v", err)
		}
	}

	handles := func() int {
		return len(strings.Fields(kubectlGet(t, cp, `{.items[*].metadata.name}`, "ipamhandles.crd.projectcalico.org")))
	}
	before := handles()
	a.Delete(t)
	if after := handles(); after != before-1 {
		t.Errorf("IPAM handles after DEL = %d, want %d (the address released)", after, before-1)
	}
	if _, ok := findPodInterface(t, nodes["node-a"], "default/db-node-a"); ok {
		t.Error("the pod's VPP interface is still there after DEL")
	}
	eventually(t, 30*time.Second, "the EndpointSlice forgets the deleted pod", func() string {
		if got := kubectlGet(t, cp, `{.items[*].endpoints[*].addresses[*]}`, "endpointslices", "-l", "kubernetes.io/service-name=db"); strings.TrimSpace(got) != "" {
			return "endpoints: " + got
		}
		return ""
	})
}
