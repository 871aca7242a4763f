package routing

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	libapiv3 "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/test/topo"
)

// meshState is three nodes on 198.18.0.0/24 and 2001:db8::/64, each with
// an IPv4 and an IPv6 block; IPv4 pods tunnel with IPIP, IPv6 pods with
// VXLAN; peers drop a lost node's routes after 15s (time for a
// restarted node to reconnect: GoBGP waits 5s before accepting it again).
func meshState(ipv4Mode, ipv6Mode inputs.EncapMode) inputs.CalicoState {
	st := inputs.CalicoState{
		IPPools: map[netip.Prefix]inputs.IPPool{
			mp("198.19.0.0/16"):     {CIDR: mp("198.19.0.0/16"), IPIPMode: ipv4Mode, VXLANMode: inputs.EncapNever},
			mp("2001:db8:100::/48"): {CIDR: mp("2001:db8:100::/48"), IPIPMode: inputs.EncapNever, VXLANMode: ipv6Mode},
		},
		BGPConfigurations: map[string]*apiv3.BGPConfiguration{"default": bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) {
			c.NodeMeshMaxRestartTime = &metav1.Duration{Duration: 15 * time.Second}
		})},
		BGPPeers:        map[string]*apiv3.BGPPeer{},
		Nodes:           map[string]*libapiv3.Node{},
		BlockAffinities: map[netip.Prefix]inputs.BlockAffinity{},
		InSync:          true,
	}
	for i, name := range []string{"node-a", "node-b", "node-c"} {
		n := i + 1
		st.Nodes[name] = calicoNode(name, meshV4(n)+"/24", meshV6(n)+"/64", 0, "", map[string]string{"name": name})
		b4, b6 := meshBlock4(n), meshBlock6(n)
		st.BlockAffinities[mp(b4)] = inputs.BlockAffinity{CIDR: mp(b4), Host: name}
		st.BlockAffinities[mp(b6)] = inputs.BlockAffinity{CIDR: mp(b6), Host: name}
	}
	return st
}

func meshV4(n int) string     { return "198.18.0." + strconv.Itoa(10+n) }
func meshV6(n int) string     { return "2001:db8::" + strconv.Itoa(10+n) }
func meshBlock4(n int) string { return "198.19." + strconv.Itoa(n) + ".0/26" }
func meshBlock6(n int) string { return "2001:db8:100:" + strconv.Itoa(n) + "::/122" }

// startMesh brings up the three nodes of meshState.
func startMesh(t *testing.T, st inputs.CalicoState) (string, []*testNode) {
	topo.RequirePrivileged(t)
	l := topo.NewLAN(t)
	state := filepath.Join(t.TempDir(), "calico.json")
	writeState(t, state, st)
	var nodes []*testNode
	for i, name := range []string{"node-a", "node-b", "node-c"} {
		n := newTestNode(t, l, name, meshV4(i+1)+"/24", meshV6(i+1)+"/64", state)
		n.start(t)
		nodes = append(nodes, n)
	}
	return state, nodes
}

// TestMesh: three agents' routing managers in a full mesh exchange their
// blocks; VPP's FIB and tunnels follow each pool's mode, changed live;
// withdrawals and a lost peer clean up; a restarting agent keeps its
// routes and its peers keep its blocks (graceful restart).
func TestMesh(t *testing.T) {
	st := meshState(inputs.EncapAlways, inputs.EncapAlways)
	state, nodes := startMesh(t, st)
	a, b, c := nodes[0], nodes[1], nodes[2]

	// Always: IPv4 through IPIP, IPv6 through VXLAN, to each peer.
	for i, n := range nodes {
		want := map[string][]string{}
		var tunnels []string
		for j := range nodes {
			if j == i {
				continue
			}
			want[meshBlock4(j+1)] = []string{"ipip->" + meshV4(j+1)}
			want[meshBlock6(j+1)] = []string{"vxlan->" + meshV6(j+1)}
			tunnels = append(tunnels, "ipip->"+meshV4(j+1), "vxlan->"+meshV6(j+1))
		}
		want[meshBlock4(i+1)] = nil // its own block is not routed by BGP
		awaitFIB(t, n, want)
		awaitTunnels(t, n, tunnels...)
	}

	t.Run("CrossSubnet on one subnet, then Never: plain routes, tunnels gone", func(t *testing.T) {
		st = meshState(inputs.EncapCrossSubnet, inputs.EncapNever)
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{
			meshBlock4(2): {"via " + meshV4(2)}, meshBlock4(3): {"via " + meshV4(3)},
			meshBlock6(2): {"via " + meshV6(2)}, meshBlock6(3): {"via " + meshV6(3)},
		})
		awaitTunnels(t, a)
		st = meshState(inputs.EncapNever, inputs.EncapAlways)
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock4(2): {"via " + meshV4(2)}, meshBlock6(2): {"vxlan->" + meshV6(2)}})
		awaitTunnels(t, a, "vxlan->"+meshV6(2), "vxlan->"+meshV6(3))
	})

	t.Run("a block released is withdrawn everywhere", func(t *testing.T) {
		delete(st.BlockAffinities, mp(meshBlock4(2)))
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock4(2): nil, meshBlock4(3): {"via " + meshV4(3)}})
		awaitFIB(t, c, map[string][]string{meshBlock4(2): nil})
		st.BlockAffinities[mp(meshBlock4(2))] = inputs.BlockAffinity{CIDR: mp(meshBlock4(2)), Host: "node-b"}
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock4(2): {"via " + meshV4(2)}})
	})

	t.Run("a restarting agent: its routes stay in VPP and at its peers", func(t *testing.T) {
		ctx := context.Background()
		before, err := fib(ctx, a.vpp.VPP, meshBlock6(2), meshBlock6(3))
		if err != nil {
			t.Fatal(err)
		}
		// node-b must keep node-a's blocks all along (graceful restart).
		stopWatching := make(chan struct{})
		var missing []string
		var g errgroup.Group
		defer func() { // also when the test fails half-way
			select {
			case <-stopWatching:
			default:
				close(stopWatching)
			}
			_ = g.Wait()
		}()
		g.Go(func() error {
			for {
				got, err := fib(ctx, b.vpp.VPP, meshBlock4(1), meshBlock6(1))
				if err == nil && (len(got[meshBlock4(1)]) == 0 || len(got[meshBlock6(1)]) == 0) {
					missing = append(missing, fmt.Sprint(got))
				}
				select {
				case <-stopWatching:
					return nil
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		a.stop(t, syscall.SIGTERM)
		time.Sleep(500 * time.Millisecond)
		a.start(t)
		awaitSessions(t, a, 4) // two peers, two families
		close(stopWatching)
		_ = g.Wait()
		if len(missing) > 0 {
			t.Errorf("node-b lost node-a's blocks while node-a restarted: %v", missing)
		}
		after, err := fib(ctx, a.vpp.VPP, meshBlock6(2), meshBlock6(3))
		if err != nil || !fibMatches(after, before) {
			t.Errorf("node-a's routes changed across its restart: %v -> %v (%v)", before, after, err)
		}
	})

	t.Run("an AS change, the mesh disabled, and BGPPeers instead apply live", func(t *testing.T) {
		before := sessions(t, a)
		asn := numorstring.ASNumber(65001)
		st.Nodes["node-a"].Spec.BGP.ASNumber = &asn
		writeState(t, state, st)
		// node-a restarts its speaker; the others must now expect AS 65001
		// from it, or no session would come back.
		await(t, "node-a's sessions re-established with its new AS", func() string {
			now := sessions(t, a)
			if len(now) < 4 || overlap(now, before) {
				return fmt.Sprintf("sessions %v (before %v)", now, before)
			}
			return ""
		})
		awaitFIB(t, b, map[string][]string{meshBlock6(1): {"vxlan->" + meshV6(1)}})
		// Back to one AS (else node-c, eBGP to node-a, would also offer it
		// node-b's blocks: a second, equal path).
		st.Nodes["node-a"].Spec.BGP.ASNumber = nil
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock6(2): {"vxlan->" + meshV6(2)}, meshBlock6(3): {"vxlan->" + meshV6(3)}})

		off := false
		st.BGPConfigurations["default"].Spec.NodeToNodeMeshEnabled = &off
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock6(2): nil, meshBlock6(3): nil})
		awaitFIB(t, b, map[string][]string{meshBlock6(1): nil})

		st.BGPPeers["all-nodes"] = bgpPeerRes("all-nodes", func(p *apiv3.BGPPeerSpec) {
			p.PeerSelector = "has(name)"
			p.MaxRestartTime = &metav1.Duration{Duration: 15 * time.Second}
		})
		writeState(t, state, st)
		awaitFIB(t, a, map[string][]string{meshBlock6(2): {"vxlan->" + meshV6(2)}, meshBlock6(3): {"vxlan->" + meshV6(3)}})
		awaitFIB(t, b, map[string][]string{meshBlock6(1): {"vxlan->" + meshV6(1)}})
	})

	t.Run("a lost peer's routes go after its restart time", func(t *testing.T) {
		c.stop(t, syscall.SIGKILL)
		awaitFIB(t, a, map[string][]string{meshBlock4(3): nil, meshBlock6(3): nil, meshBlock4(2): {"via " + meshV4(2)}})
		awaitTunnels(t, a, "vxlan->"+meshV6(2))
	})
}
