package node

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Plugin is the CNI configuration a pod is added with.
type Plugin string

const (
	// OurPlugin is calico-vpp-cni with host-local IPAM on the node's
	// PodCIDR.
	OurPlugin Plugin = "calico-vpp-cni"
	// CalicoPlugin is Calico's own CNI plugin with calico-ipam, talking to
	// the agent over Calico's gRPC dataplane.
	CalicoPlugin Plugin = "calico"
)

// Pod is a pod the harness runs on a node, as the kubelet would: the Pod
// object (scheduled to the node), a network namespace, CNI ADD, then the
// status (IPs, Ready) that EndpointSlices follow.
type Pod struct {
	Name      string
	Namespace string
	Netns     *topo.Netns
	IPs       []string // from the CNI result, without prefix length
	Plugin    Plugin
	node      *Node
}

// netConf is the CNI network configuration of plugin on n.
func (n *Node) netConf(plugin Plugin) (string, error) {
	switch plugin {
	case OurPlugin:
		return fmt.Sprintf(`{"cniVersion": "1.1.0", "name": "k8s-pod-network", "type": "calico-vpp-cni", "socket": "unix://%s",
			"ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]]}}`,
			n.Socket, filepath.Join(n.cniState, "host-local"), n.podCIDR), nil
	case CalicoPlugin:
		return fmt.Sprintf(`{"cniVersion": "0.3.1", "name": "k8s-pod-network", "type": "calico",
			"log_level": "info", "log_file_path": %q, "datastore_type": "kubernetes", "nodename": %q, "nodename_file": %q,
			"ipam": {"type": "calico-ipam"}, "policy": {"type": "k8s"}, "kubernetes": {"kubeconfig": %q},
			"dataplane_options": {"type": "grpc", "socket": "unix://%s"}}`,
			filepath.Join(n.logDir, "calico-cni.log"), n.Name, n.nodenameFile, n.kubeconfig, n.Socket), nil
	}
	return "", fmt.Errorf("unknown CNI plugin %q", plugin)
}

// CNI runs cnitool op (add, check, del) for a pod, from the node's
// namespace, with the CNI_ARGS the kubelet passes. It returns the result
// (stdout); a failure carries the plugins' logs (stderr).
func (n *Node) CNI(op string, plugin Plugin, pod *topo.Netns, namespace, name string) (string, error) {
	conf, err := n.netConf(plugin)
	if err != nil {
		return "", err
	}
	confDir := filepath.Join(n.cniState, "net.d-"+string(plugin))
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(confDir, "10-calico-vpp.conf"), []byte(conf), 0o644); err != nil {
		return "", err
	}
	c := exec.Command(filepath.Join(n.Bin, "cnitool"), op, "k8s-pod-network", pod.Path())
	c.Env = append(os.Environ(), "CNI_PATH="+n.Bin, "NETCONFPATH="+confDir, "CNI_IFNAME=eth0",
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s", namespace, name, pod.Name))
	var out, logs strings.Builder
	c.Stdout, c.Stderr = &out, &logs
	testutil.Detach(c)
	if err := nsutil.Start(n.handle, c); err != nil {
		return "", err
	}
	if err := c.Wait(); err != nil {
		return out.String(), fmt.Errorf("cnitool %s: %w\n%s", op, err, logs.String())
	}
	return out.String(), nil
}

// RunPod creates the Pod object on this node, its namespace, adds it to
// the network with plugin and marks it running and ready with its IPs.
func (n *Node) RunPod(t testing.TB, name string, plugin Plugin) *Pod {
	t.Helper()
	p := &Pod{Name: name, Namespace: "default", Plugin: plugin, node: n}
	n.cp.Apply(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels: {app: %s}
spec:
  nodeName: %s
  containers:
  - name: app
    image: registry.invalid/app:1
`, name, p.Namespace, name, n.Name))
	p.Netns = topo.NewNetns(t, "pod")
	out, err := n.CNI("add", plugin, p.Netns, p.Namespace, name)
	if err != nil {
		t.Fatalf("CNI ADD of %s on %s (%s): %v\n%s", name, n.Name, plugin, err, out)
	}
	var result struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal([]byte(out), &result); err != nil {
		t.Fatalf("CNI result of %s: %v\n%s", name, err, out)
	}
	var podIPs []string
	for _, ip := range result.IPs {
		addr, _, _ := strings.Cut(ip.Address, "/")
		p.IPs = append(p.IPs, addr)
		podIPs = append(podIPs, fmt.Sprintf(`{"ip": %q}`, addr))
	}
	if len(p.IPs) == 0 {
		t.Fatalf("CNI ADD of %s gave no address:\n%s", name, out)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	status := fmt.Sprintf(`{"status": {"phase": "Running", "podIP": %q, "podIPs": [%s], "startTime": %q,
		"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": %q},
		               {"type": "ContainersReady", "status": "True", "lastTransitionTime": %q}],
		"containerStatuses": [{"name": "app", "image": "registry.invalid/app:1", "imageID": "", "ready": true, "restartCount": 0,
		                       "state": {"running": {"startedAt": %q}}}]}}`,
		p.IPs[0], strings.Join(podIPs, ", "), now, now, now, now)
	if out, err := n.cp.Kubectl("patch", "pod", name, "-n", p.Namespace, "--subresource=status", "--type=merge", "-p", status); err != nil {
		t.Fatalf("mark pod %s running: %v\n%s", name, err, out)
	}
	return p
}

// Delete removes the pod from the network (CNI DEL) and deletes the Pod
// object.
func (p *Pod) Delete(t testing.TB) {
	t.Helper()
	if out, err := p.node.CNI("del", p.Plugin, p.Netns, p.Namespace, p.Name); err != nil {
		t.Fatalf("CNI DEL of %s: %v\n%s", p.Name, err, out)
	}
	if out, err := p.node.cp.Kubectl("delete", "pod", p.Name, "-n", p.Namespace, "--grace-period=0", "--force"); err != nil {
		t.Fatalf("delete pod %s: %v\n%s", p.Name, err, out)
	}
}

// HostLocalAllocated reports whether host-local (OurPlugin's IPAM) holds
// ip on the node.
func (n *Node) HostLocalAllocated(ip string) bool {
	_, err := os.Stat(filepath.Join(n.cniState, "host-local", "k8s-pod-network", ip))
	return err == nil
}

// Addrs are the pod's interface addresses as Linux shows them.
func (p *Pod) Addrs(t testing.TB) string {
	t.Helper()
	return p.Netns.Run(t, "ip", "-br", "addr", "show", "dev", "eth0")
}
