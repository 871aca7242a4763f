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

// The agent binary as the DaemonSet runs it, in a node's namespace beside
// vpp-manager: it follows the status vpp-manager publishes, reads a real API server
// (reached through a forward, as through the node's network), becomes
// ready, wires a pod that cnitool adds through calico-vpp-cni, installs
// felix-proxy, and stops cleanly on SIGTERM.
func TestAgentBinary(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n")
	n := node.Start(t, node.Options{Name: "node-a", Bin: bin, ControlPlane: cp, LAN: topo.NewLAN(t),
		Addrs: []string{"198.18.0.11/24"}, PodCIDR: "198.51.100.0/24"})
	n.AwaitReady(t)
	if _, err := os.Stat(filepath.Join(n.Plugins, "felix-api-proxy")); err != nil {
		t.Errorf("felix-proxy not installed: %v", err)
	}

	pod := n.RunPod(t, "web-0", node.OurPlugin)
	if addrs := pod.Addrs(t); !strings.Contains(addrs, "198.51.100.") {
		t.Errorf("pod eth0: %s", addrs)
	}
	_, status := n.Probe("/status")
	var compact bytes.Buffer
	_ = json.Compact(&compact, []byte(status))
	if s := compact.String(); !strings.Contains(s, `"pod":"default/web-0"`) || !strings.Contains(s, `"swIfIndex"`) || !strings.Contains(s, `"ready":"ready"`) {
		t.Errorf("/status does not show the wired pod: %s", status)
	}
	pod.Delete(t)
	if err := n.Stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("agent exit on SIGTERM: %v", err)
	}
}
