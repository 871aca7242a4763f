package routing

// Interoperability with BGP speakers nobody here wrote: BIRD (Debian's
// bird2) as the route reflector a Calico cluster runs, and gobgpd
// (Debian's) as an external eBGP router. Both run in their own namespace
// on the test LAN.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

// requireTool skips when a speaker is not installed (the README's test
// command installs bird2 and gobgpd).
func requireTool(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not installed (apt-get install bird2 gobgpd; make test does it)", path)
	}
}

// await polls check until it returns "" (or fails the test with its
// last answer).
func await(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// twoNodes is meshState's node-a and node-b only, with the mesh off.
func twoNodes(ipv4Mode inputs.EncapMode) inputs.CalicoState {
	st := meshState(ipv4Mode, inputs.EncapNever)
	delete(st.Nodes, "node-c")
	for p, b := range st.BlockAffinities {
		if b.Host == "node-c" {
			delete(st.BlockAffinities, p)
		}
	}
	off := false
	st.BGPConfigurations["default"].Spec.NodeToNodeMeshEnabled = &off
	return st
}

func startNodes(t *testing.T, l *topo.LAN, state string, names ...string) []*testNode {
	var nodes []*testNode
	for i, name := range names {
		n := newTestNode(t, l, name, meshV4(i+1)+"/24", meshV6(i+1)+"/64", state)
		n.start(t)
		nodes = append(nodes, n)
	}
	return nodes
}

const birdConfig = `router id 198.18.0.2;
log stderr all;
protocol device {}
protocol static static4 { ipv4; route 203.0.113.0/24 blackhole; }
protocol static static6 { ipv6; route 2001:db8:ff::/48 blackhole; }
template bgp client4 {
  local 198.18.0.2 as 64512;
  rr client; rr cluster id 198.18.0.2;
  graceful restart on;
  connect retry time 2;
  ipv4 { import all; export all; };
}
template bgp client6 {
  local 2001:db8::2 as 64512;
  rr client; rr cluster id 198.18.0.2;
  graceful restart on;
  connect retry time 2;
  ipv6 { import all; export all; };
}
protocol bgp node_a4 from client4 { neighbor 198.18.0.11 as 64512; }
protocol bgp node_b4 from client4 { neighbor 198.18.0.12 as 64512; }
protocol bgp node_a6 from client6 { neighbor 2001:db8::11 as 64512; }
protocol bgp node_b6 from client6 { neighbor 2001:db8::12 as 64512; }
`

// TestBIRDRouteReflector: two nodes peer with BIRD as their route
// reflector instead of the mesh. Each learns the other's blocks (next hop
// kept, so through the tunnel to the other node) and BIRD's own routes;
// BIRD learns both nodes' blocks. BGPPeers apply live: removing the IPv6
// peer drops the IPv6 session's routes, adding it back restores them.
func TestBIRDRouteReflector(t *testing.T) {
	requireTool(t, "/usr/sbin/bird")
	topo.RequirePrivileged(t)
	l := topo.NewLAN(t)
	rr := topo.NewNetns(t, "rr")
	l.Plug(t, rr, "eth0", "198.18.0.2/24", "2001:db8::2/64")
	dir := t.TempDir()
	conf, sock := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	if err := os.WriteFile(conf, []byte(birdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	rr.Daemon(t, "bird", "/usr/sbin/bird", "-f", "-c", conf, "-s", sock)

	st := twoNodes(inputs.EncapAlways)
	st.BGPPeers["rr4"] = bgpPeerRes("rr4", func(p *apiv3.BGPPeerSpec) { p.PeerIP, p.ASNumber = "198.18.0.2", 64512 })
	st.BGPPeers["rr6"] = bgpPeerRes("rr6", func(p *apiv3.BGPPeerSpec) { p.PeerIP, p.ASNumber = "2001:db8::2", 64512 })
	state := filepath.Join(dir, "calico.json")
	writeState(t, state, st)
	nodes := startNodes(t, l, state, "node-a", "node-b")
	a, b := nodes[0], nodes[1]

	awaitFIB(t, a, map[string][]string{
		meshBlock4(2): {"ipip->" + meshV4(2)}, meshBlock6(2): {"via " + meshV6(2)},
		"203.0.113.0/24": {"via 198.18.0.2"}, "2001:db8:ff::/48": {"via 2001:db8::2"},
	})
	awaitFIB(t, b, map[string][]string{meshBlock4(1): {"ipip->" + meshV4(1)}, meshBlock6(1): {"via " + meshV6(1)}})
	birdc := func(args ...string) string {
		out, _ := rr.Output(append([]string{"/usr/sbin/birdc", "-s", sock}, args...)...)
		return out
	}
	for _, block := range []struct{ prefix, via string }{
		{meshBlock4(1), meshV4(1)}, {meshBlock4(2), meshV4(2)}, {meshBlock6(1), meshV6(1)}, {meshBlock6(2), meshV6(2)},
	} {
		await(t, "BIRD learns "+block.prefix, func() string {
			if out := birdc("show", "route", "for", block.prefix, "all"); !strings.Contains(out, block.via) {
				return out
			}
			return ""
		})
	}

	delete(st.BGPPeers, "rr6")
	writeState(t, state, st)
	awaitFIB(t, a, map[string][]string{"2001:db8:ff::/48": nil, meshBlock6(2): nil, "203.0.113.0/24": {"via 198.18.0.2"}})
	st.BGPPeers["rr6"] = bgpPeerRes("rr6", func(p *apiv3.BGPPeerSpec) { p.PeerIP, p.ASNumber = "2001:db8::2", 64512 })
	writeState(t, state, st)
	awaitFIB(t, a, map[string][]string{"2001:db8:ff::/48": {"via 2001:db8::2"}, meshBlock6(2): {"via " + meshV6(2)}})
}

const gobgpdConfig = `[global.config]
  as = 65100
  router-id = "198.18.0.3"
  port = 179
  local-address-list = ["198.18.0.3"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "198.18.0.11"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 2
  [neighbors.ebgp-multihop.config]
    enabled = true
    multihop-ttl = 255
`

// TestGoBGPdExternalPeer: a node peers with an external router (gobgpd,
// another AS) through a BGPPeer scoped to it with nodeSelector; routes go
// both ways, and a route the router withdraws leaves VPP.
func TestGoBGPdExternalPeer(t *testing.T) {
	requireTool(t, "/usr/bin/gobgpd")
	topo.RequirePrivileged(t)
	l := topo.NewLAN(t)
	router := topo.NewNetns(t, "ext")
	l.Plug(t, router, "eth0", "198.18.0.3/24")
	dir := t.TempDir()
	conf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(gobgpdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	const api = "127.0.0.1:50051" // gobgpd's API, on the router namespace's loopback
	router.Daemon(t, "gobgpd", "/usr/bin/gobgpd", "-f", conf, "--api-hosts", api, "-l", "info")
	gobgp := func(args ...string) (string, error) {
		return router.Output(append([]string{"/usr/bin/gobgp", "-u", "127.0.0.1", "-p", "50051"}, args...)...)
	}
	await(t, "gobgpd answers", func() string {
		if out, err := gobgp("global"); err != nil {
			return out
		}
		return ""
	})
	if out, err := gobgp("global", "rib", "add", "198.51.100.0/24", "nexthop", "198.18.0.3"); err != nil {
		t.Fatalf("inject a route: %v\n%s", err, out)
	}

	st := twoNodes(inputs.EncapNever)
	delete(st.Nodes, "node-b")
	st.BGPPeers["edge"] = bgpPeerRes("edge", func(p *apiv3.BGPPeerSpec) {
		p.NodeSelector, p.PeerIP, p.ASNumber = "name == 'node-a'", "198.18.0.3", 65100
	})
	state := filepath.Join(dir, "calico.json")
	writeState(t, state, st)
	a := startNodes(t, l, state, "node-a")[0]

	awaitFIB(t, a, map[string][]string{"198.51.100.0/24": {"via 198.18.0.3"}})
	await(t, "gobgpd learns node-a's block", func() string {
		out, _ := gobgp("global", "rib", meshBlock4(1))
		if !strings.Contains(out, meshV4(1)) {
			return out
		}
		return ""
	})
	if out, err := gobgp("global", "rib", "del", "198.51.100.0/24"); err != nil {
		t.Fatalf("withdraw: %v\n%s", err, out)
	}
	awaitFIB(t, a, map[string][]string{"198.51.100.0/24": nil})
}
