package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

// The agent binary as the DaemonSet runs it, in a node's namespace: it
// follows the status vpp-manager publishes, reads a real API server
// (reached through a forward, as through the node's network), becomes
// ready, wires a pod that cnitool adds through calico-vpp-cni, installs
// felix-proxy, and stops cleanly on SIGTERM.
func TestAgentBinary(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n")
	n := node.Start(t, node.Options{Name: "node-a", Bin: bin, ControlPlane: cp})
	n.AwaitReady(t)
	if _, err := os.Stat(filepath.Join(n.Plugins, "felix-api-proxy")); err != nil {
		t.Errorf("felix-proxy not installed: %v", err)
	}

	pod := topo.NewNetns(t, "pod")
	if out, err := n.CNI("add", pod, "web-0", "198.18.100.0/24"); err != nil {
		t.Fatalf("cnitool add: %v\n%s", err, out)
	}
	if addrs := pod.Run(t, "ip", "-4", "-br", "addr", "show", "dev", "eth0"); !strings.Contains(addrs, "198.18.100.") {
		t.Errorf("pod eth0: %s", addrs)
	}
	_, status := n.Probe("/status")
	var compact bytes.Buffer
	_ = json.Compact(&compact, []byte(status))
	if s := compact.String(); !strings.Contains(s, `"pod":"default/web-0"`) || !strings.Contains(s, `"swIfIndex"`) || !strings.Contains(s, `"ready":"ready"`) {
		t.Errorf("/status does not show the wired pod: %s", status)
	}
	if out, err := n.CNI("del", pod, "web-0", "198.18.100.0/24"); err != nil {
		t.Fatalf("cnitool del: %v\n%s", err, out)
	}
	if err := n.Stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("agent exit on SIGTERM: %v", err)
	}
}
