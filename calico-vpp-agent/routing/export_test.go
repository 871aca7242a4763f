package routing

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func freePort(t *testing.T, addr string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// router is a plain GoBGP speaker on a loopback address.
func router(t *testing.T, addr string, as uint32, port uint16, node string, nodePort uint16) *server.BgpServer {
	t.Helper()
	s := server.NewBgpServer(server.LoggerOption(newGoBGPLogger(vpptest.Logger(t))))
	go s.Serve() // GoBGP's loop has no stop; StopBgp below ends the sessions
	ctx := context.Background()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: as, RouterId: addr, ListenPort: int32(port), ListenAddresses: []string{addr}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: node, PeerAsn: 64512},
		Transport: &api.Transport{LocalAddress: addr, RemotePort: uint32(nodePort)},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1}},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: family, Enabled: true}}},
	}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func originateFrom(t *testing.T, s *server.BgpServer, prefix, nexthop string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	path, err := apiutil.NewPath(bgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String()), false,
		[]bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeNextHop(nexthop)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		t.Fatal(err)
	}
}

func ribOf(s *server.BgpServer) map[string]bool {
	out := map[string]bool{}
	_ = s.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
		Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}}, func(d *api.Destination) { out[d.Prefix] = true })
	return out
}

// A node is no transit: of what it learns from one external router it
// passes to another only what lies in Calico's pools, while its own
// blocks go to both (Calico's export filter). Towards a peer with
// keepOriginalNextHop, next hops stay what they were.
func TestExportPolicy(t *testing.T) {
	const node, x, y = "127.0.0.1", "127.0.0.2", "127.0.0.3"
	nodePort, xPort, yPort := freePort(t, node), freePort(t, x), freePort(t, y)
	rx := router(t, x, 65100, xPort, node, nodePort)
	ry := router(t, y, 65200, yPort, node, nodePort)
	originateFrom(t, rx, "198.51.100.0/24", x) // outside every pool
	originateFrom(t, rx, "198.19.9.0/26", x)   // another cluster member's block, say

	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	b := NewBGP(l.WithField("test", "export"), logrus.WarnLevel)
	sp := Speaker{AS: 64512, RouterID: netip.MustParseAddr(node), ListenPort: nodePort, NodeIPv4: netip.MustParsePrefix(node + "/8"),
		Peers: map[PeerKey]Peer{}}
	for _, p := range []Peer{{PeerKey: pk(x, xPort), AS: 65100}, {PeerKey: pk(y, yPort), AS: 65200, KeepNextHop: true}} {
		sp.Peers[p.PeerKey] = p
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Cleanup(func() { _ = b.stop(context.Background()) })
	if err := b.Apply(ctx, sp); err != nil {
		t.Fatal(err)
	}
	pools := map[netip.Prefix]inputs.IPPool{mp("198.19.0.0/16"): {CIDR: mp("198.19.0.0/16")}}
	ads := map[netip.Prefix]Advertisement{mp("198.19.1.0/26"): {Prefix: mp("198.19.1.0/26")}}
	if err := b.Advertise(ctx, sp, ads, Exports(pools, ads)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var gotY, gotX map[string]bool
	for time.Now().Before(deadline) {
		gotY, gotX = ribOf(ry), ribOf(rx)
		if gotY["198.19.1.0/26"] && gotY["198.19.9.0/26"] && gotX["198.19.1.0/26"] {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gotY["198.19.1.0/26"] || !gotY["198.19.9.0/26"] || !gotX["198.19.1.0/26"] {
		t.Fatalf("router y has %v, x has %v: want the node's block at both and the pool route at y", gotY, gotX)
	}
	time.Sleep(time.Second) // what would leak would have arrived with the rest
	if gotY = ribOf(ry); gotY["198.51.100.0/24"] {
		t.Errorf("the node passed x's route outside the pools to y: %v", gotY)
	}
	if nh := nextHopAt(ry, "198.19.9.0/26"); nh != x {
		t.Errorf("y (keepOriginalNextHop) got 198.19.9.0/26 via %s, want x's %s", nh, x)
	}
	if nh := nextHopAt(rx, "198.19.1.0/26"); nh != node {
		t.Errorf("x got the node's block via %s, want the node %s", nh, node)
	}
	if learned := b.Learned(); len(learned[mp("198.51.100.0/24")]) == 0 {
		t.Errorf("the node did not learn x's route itself: %v", learned)
	}
	if s := strings.Join(describe(Exports(pools, ads)), " "); s != "198.19.0.0/16 le 32 198.19.1.0/26 le 26" {
		t.Errorf("exports = %s", s)
	}
}

// nextHopAt is the next hop of s's best path to prefix.
func nextHopAt(s *server.BgpServer, prefix string) string {
	nh := ""
	_ = s.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
		Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Prefixes: []*api.TableLookupPrefix{{Prefix: prefix}}},
		func(d *api.Destination) {
			for _, p := range d.Paths {
				if a, ok := nextHop(p); ok {
					nh = a.String()
				}
			}
		})
	return nh
}

func describe(rs []ExportRange) []string { return strings.Split(describeRanges(rs), ", ") }
