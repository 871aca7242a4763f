package node

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

// The standard two-node cluster: node-a and node-b on one LAN
// (198.18.0.0/24) behind an upstream router at 198.18.0.1, each with a
// podCIDR for host-local IPAM, and two IPIP pools: "pods" holds the
// podCIDRs, "ipam" is where calico-ipam allocates blocks.
const (
	RouterAddr = "198.18.0.1"
	// TwoNodeObjects are the Kubernetes and Calico objects of the cluster.
	TwoNodeObjects = nodeObjects + PodsPool + `---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: ipam
spec:
  cidr: 198.19.128.0/18
  blockSize: 26
  ipipMode: Always
  vxlanMode: Never
  nodeSelector: all()
`
	// PodsPool holds the podCIDRs (applying it again with other modes
	// changes them).
	PodsPool = `apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 198.19.0.0/17
  ipipMode: Always
  vxlanMode: Never
  nodeSelector: all()
`
	nodeObjects = `apiVersion: v1
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
`
)

// NodeAddrs are the nodes' uplink addresses (their BGP addresses), and
// PodCIDRs their Kubernetes podCIDRs.
var (
	NodeAddrs = map[string]string{"node-a": "198.18.0.11/24", "node-b": "198.18.0.12/24"}
	PodCIDRs  = map[string]string{"node-a": "198.19.1.0/24", "node-b": "198.19.2.0/24"}
)

// StartTwo starts node-a and node-b (TwoNodeObjects must be applied) on a
// new LAN with the upstream router; env goes to the agents. AwaitReady
// waits for them.
func StartTwo(t testing.TB, bin string, cp *cluster.ControlPlane, env ...string) (map[string]*Node, *topo.LAN) {
	t.Helper()
	lan := topo.NewLAN(t)
	lan.Netns.Run(t, "ip", "addr", "add", RouterAddr+"/24", "dev", "br0")
	nodes := map[string]*Node{}
	for _, name := range []string{"node-a", "node-b"} {
		nodes[name] = Start(t, Options{Name: name, Bin: bin, ControlPlane: cp, LAN: lan,
			Addrs: []string{NodeAddrs[name]}, Gateway: RouterAddr, PodCIDR: PodCIDRs[name], Env: env})
	}
	return nodes, lan
}

// reportReady patches the Node's status as its kubelet would: Ready, with
// the node's address. Nodes not in the API server are left alone.
func (n *Node) reportReady(t testing.TB, addr string) {
	t.Helper()
	if _, err := n.cp.Kubectl("get", "node", n.Name); err != nil {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	status := fmt.Sprintf(`{"status": {"addresses": [{"type": "InternalIP", "address": %q}, {"type": "Hostname", "address": %q}],
		"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "calico-vpp test harness",
		                "lastHeartbeatTime": %q, "lastTransitionTime": %q}]}}`, addr, n.Name, now, now)
	if out, err := n.cp.Kubectl("patch", "node", n.Name, "--subresource=status", "--type=merge", "-p", status); err != nil {
		t.Fatalf("report node %s ready: %v\n%s", n.Name, err, out)
	}
}

// Calivppctl runs our debugging CLI on the node, as in its agent
// container: against the node's VPP and agent.
func (n *Node) Calivppctl(args ...string) (string, error) {
	full := append([]string{filepath.Join(n.Bin, "calivppctl"), args[0], "--status-url", "http://127.0.0.1:9099/status"}, args[1:]...)
	return n.Exec(full...)
}
