package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

const rrBirdConfig = `router id 198.18.0.2;
log stderr all;
protocol device {}
template bgp client4 {
  local 198.18.0.2 as 64512;
  rr client; rr cluster id 198.18.0.2;
  graceful restart on;
  connect retry time 2;
  ipv4 { import all; export all; };
}
protocol bgp node_a from client4 { neighbor 198.18.0.11 as 64512; }
protocol bgp node_b from client4 { neighbor 198.18.0.12 as 64512; }
`

// An external BIRD route reflector: with the mesh turned off and a
// BGPPeer created with kubectl, the nodes peer with BIRD instead, and
// each still learns the other's pod CIDR (through the reflector, next hop
// kept, so through the tunnel to the other node).
func TestBIRDRouteReflector(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/bird"); err != nil {
		t.Skip("bird2 is not installed (make test installs it)")
	}
	bin, cp := node.Cluster(t, "../..", node.TwoNodeObjects)
	cp.Apply(t, `apiVersion: crd.projectcalico.org/v1
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
`)
	dir := t.TempDir()
	conf, sock := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	if err := os.WriteFile(conf, []byte(rrBirdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes, lan := startNodes(t, bin, cp, "USE_POD_CIDR=true")
	rr := topo.NewNetns(t, "rr")
	lan.Plug(t, rr, "eth0", "198.18.0.2/24")
	rr.Daemon(t, "bird", "/usr/sbin/bird", "-f", "-c", conf, "-s", sock)

	if via := routeVia(t, nodes["node-a"].VPP(t), "198.19.2.0/24"); via != "" {
		t.Fatalf("without the mesh or a peer, node-a already routes node-b's pods: %s", via)
	}
	// The peer, created live with kubectl.
	cp.Apply(t, `apiVersion: crd.projectcalico.org/v1
kind: BGPPeer
metadata:
  name: rr
spec:
  peerIP: 198.18.0.2
  asNumber: 64512
`)
	awaitRoutes(t, nodes, "ipip")
	out, _ := rr.Output("/usr/sbin/birdc", "-s", sock, "show", "route")
	for _, want := range []string{"198.19.1.0/24", "198.19.2.0/24"} {
		if !strings.Contains(out, want) {
			t.Errorf("BIRD does not have %s:\n%s", want, out)
		}
	}

	t.Run("an agent killed and restarted: BIRD keeps its routes (graceful restart)", func(t *testing.T) {
		if missing := restartWatchingRoute(t, nodes["node-a"], nodes["node-b"], "198.19.1.0/24"); len(missing) > 0 {
			out, _ := rr.Output("/usr/sbin/birdc", "-s", sock, "show", "protocols", "all", "node_a")
			t.Errorf("node-b lost the route to node-a's pods while node-a's agent restarted: %v\n%s", missing, out)
		}
		awaitRoutes(t, nodes, "ipip")
	})
}
