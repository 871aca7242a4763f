package vpplink_test

// The contract suite: each test drives the VPP layer against the VPP that
// vpptest.New gives (fakevpp in-process, or a real VPP 25.10 with
// VPP_BINARY) and asserts what VPP then reports in its dumps.

import (
	"context"
	"errors"
	"golang.org/x/sync/errgroup"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// mustRetval asserts err is a VPP refusal with code want.
func mustRetval(t *testing.T, err error, want vpplink.Retval) {
	t.Helper()
	if !vpplink.IsRetval(err, want) {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// newTap creates a tun without a host namespace (in VPP's own), which both
// fakevpp and a real VPP with vhost-net accept.
func newIPIP(t *testing.T, v *vpplink.VPP, src, dst string) vpplink.SwIfIndex {
	t.Helper()
	idx, err := v.CreateIPIPTunnel(testCtx(t), vpplink.IPIPTunnel{Src: addr(src), Dst: addr(dst)})
	if err != nil {
		t.Fatalf("create ipip: %v", err)
	}
	return idx
}

func findRoute(routes []vpplink.Route, p netip.Prefix) (vpplink.Route, bool) {
	for _, r := range routes {
		if r.Prefix == p {
			return r, true
		}
	}
	return vpplink.Route{}, false
}

func TestVersionAndBootState(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	ver, err := v.Version(ctx)
	if err != nil || !strings.HasPrefix(ver.Version, "25.10") || ver.Program != "vpe" {
		t.Fatalf("version = %+v, %v", ver, err)
	}
	ifs, err := v.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ifs[0].SwIfIndex != 0 || ifs[0].Name != "local0" || ifs[0].AdminUp {
		t.Errorf("first interface = %+v, want local0 down at index 0", ifs[0])
	}
	tables, err := v.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []vpplink.Table{{ID: 0, Name: "ipv4-VRF:0"}, {ID: 0, IPv6: true, Name: "ipv6-VRF:0"}}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %+v, want %+v", tables, want)
	}
	routes, err := v.Routes(ctx, vpplink.Table{})
	if err != nil {
		t.Fatal(err)
	}
	for _, special := range []string{"0.0.0.0/0", "0.0.0.0/32", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"} {
		r, ok := findRoute(routes, pfx(special))
		if !ok || len(r.Paths) != 1 || r.Paths[0].Type != vpplink.PathDrop {
			t.Errorf("special route %s = %+v (found %v), want one drop path", special, r, ok)
		}
	}
}

func TestInterfaceSettings(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	idx := newIPIP(t, v, "198.18.0.1", "198.18.0.2")

	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		t.Fatal(err)
	}
	if err := v.SetInterfaceMTU(ctx, idx, 1480); err != nil {
		t.Fatal(err)
	}
	if err := v.SetInterfaceTag(ctx, idx, "calico-vpp:test"); err != nil {
		t.Fatal(err)
	}
	i, err := v.Interface(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	if !i.AdminUp || i.MTU != 1480 || i.Tag != "calico-vpp:test" || i.Name != "ipip0" {
		t.Errorf("interface = %+v, want ipip0 up, MTU 1480, tagged", i)
	}
	got, found, err := v.InterfaceByTag(ctx, "calico-vpp:test")
	if err != nil || !found || got.SwIfIndex != idx {
		t.Errorf("InterfaceByTag = %+v %v %v", got, found, err)
	}
	if _, found, _ := v.InterfaceByName(ctx, "ipip0"); !found {
		t.Error("InterfaceByName(ipip0) not found")
	}
	// Tunnels have no MAC: VPP answers UNIMPLEMENTED.
	mustRetval(t, v.SetInterfaceMAC(ctx, idx, net.HardwareAddr{2, 0, 0, 0, 0, 1}), vpplink.RetvalUnimplemented)
	if err := v.DelInterfaceTag(ctx, idx); err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(ctx, idx); i.Tag != "" {
		t.Errorf("tag after delete = %q", i.Tag)
	}
	mustRetval(t, v.SetInterfaceUp(ctx, 999, true), vpplink.RetvalInvalidSwIfIndex)
	if _, err := v.Interface(ctx, 999); !vpplink.IsRetval(err, vpplink.RetvalInvalidSwIfIndex) {
		t.Errorf("Interface(999) err = %v", err)
	}
	if err := v.EnableGSO(ctx, idx, true); err != nil {
		t.Errorf("enable gso: %v", err)
	}
}

func TestInterfaceAddresses(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	idx := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"192.0.2.1/24", "2001:db8::1/64"} {
		if err := v.AddInterfaceAddress(ctx, idx, pfx(a)); err != nil {
			t.Fatalf("add %s: %v", a, err)
		}
	}
	v4, err := v.InterfaceAddresses(ctx, idx, false)
	if err != nil || !slices.Equal(v4, []netip.Prefix{pfx("192.0.2.1/24")}) {
		t.Errorf("v4 addresses = %v, %v", v4, err)
	}
	v6, err := v.InterfaceAddresses(ctx, idx, true)
	if err != nil || !slices.Equal(v6, []netip.Prefix{pfx("2001:db8::1/64")}) {
		t.Errorf("v6 addresses = %v, %v", v6, err)
	}
	// Duplicates: ADDRESS_IN_USE for IPv4, DUPLICATE_IF_ADDRESS for IPv6.
	mustRetval(t, v.AddInterfaceAddress(ctx, idx, pfx("192.0.2.1/24")), vpplink.RetvalAddressInUse)
	if err := v.AddInterfaceAddress(ctx, idx, pfx("2001:db8::1/64")); !vpplink.IsRetval(err, -127) {
		t.Errorf("duplicate v6 address err = %v, want -127", err)
	}
	// Connected routes of an up interface: the /32 local and the glean.
	routes, err := v.Routes(ctx, vpplink.Table{})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := findRoute(routes, pfx("192.0.2.1/32")); !ok || r.Paths[0].Type != vpplink.PathLocal {
		t.Errorf("local /32 = %+v %v", r, ok)
	}
	// Binding to a table needs the addresses gone first.
	if err := v.AddTable(ctx, vpplink.Table{ID: 7}); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.SetInterfaceTable(ctx, idx, false, 7), vpplink.RetvalAddressFoundForIf)
	if err := v.DelInterfaceAddress(ctx, idx, pfx("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelInterfaceAddress(ctx, idx, pfx("192.0.2.1/24")), -60)
	if err := v.SetInterfaceTable(ctx, idx, false, 7); err != nil {
		t.Fatal(err)
	}
	table, err := v.InterfaceTable(ctx, idx, false)
	if err != nil || table != 7 {
		t.Errorf("table = %d, %v; want 7", table, err)
	}
	mustRetval(t, v.SetInterfaceTable(ctx, idx, false, 8), vpplink.RetvalNoSuchFib)
	if err := v.DelAllInterfaceAddresses(ctx, idx); err != nil {
		t.Fatal(err)
	}
	if v6, _ := v.InterfaceAddresses(ctx, idx, true); len(v6) != 0 {
		t.Errorf("addresses after del_all = %v", v6)
	}
}

func TestTablesAndRoutes(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	if err := v.AddTable(ctx, vpplink.Table{ID: 100, Name: "calico-pods"}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddTable(ctx, vpplink.Table{ID: 100, IPv6: true}); err != nil {
		t.Fatal(err)
	}
	tables, _ := v.Tables(ctx)
	if !slices.Contains(tables, vpplink.Table{ID: 100, Name: "calico-pods"}) || !slices.Contains(tables, vpplink.Table{ID: 100, IPv6: true, Name: "ipv6-VRF:100"}) {
		t.Errorf("tables = %+v", tables)
	}
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	gw1, gw2 := vpplink.RoutePath{Gateway: addr("198.18.1.1"), SwIfIndex: tun}, vpplink.RoutePath{Gateway: addr("198.18.1.2"), SwIfIndex: tun}

	cases := []struct {
		name  string
		apply func() error
		want  []vpplink.RoutePath // nil: route absent
	}{
		{"add", func() error {
			return v.AddRoute(ctx, vpplink.Route{Table: 100, Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{gw1}})
		}, []vpplink.RoutePath{gw1}},
		{"add path (ECMP)", func() error { return v.AddRoutePath(ctx, 100, pfx("203.0.113.0/24"), gw2) }, []vpplink.RoutePath{gw1, gw2}},
		{"replace", func() error {
			return v.AddRoute(ctx, vpplink.Route{Table: 100, Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{gw2}})
		}, []vpplink.RoutePath{gw2}},
		{"delete last path", func() error { return v.DelRoutePath(ctx, 100, pfx("203.0.113.0/24"), gw2) }, nil},
		{"add lookup", func() error {
			return v.AddRoute(ctx, vpplink.Route{Table: 100, Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{{Type: vpplink.PathLookup, Table: 0}}})
		}, []vpplink.RoutePath{{Type: vpplink.PathLookup, Table: 0, SwIfIndex: vpplink.InvalidSwIfIndex}}},
		{"delete", func() error { return v.DelRoute(ctx, vpplink.Route{Table: 100, Prefix: pfx("203.0.113.0/24")}) }, nil},
		{"delete missing is not an error", func() error { return v.DelRoute(ctx, vpplink.Route{Table: 100, Prefix: pfx("203.0.113.0/24")}) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.apply(); err != nil {
				t.Fatal(err)
			}
			routes, err := v.Routes(ctx, vpplink.Table{ID: 100})
			if err != nil {
				t.Fatal(err)
			}
			r, found := findRoute(routes, pfx("203.0.113.0/24"))
			if c.want == nil {
				if found {
					t.Fatalf("route still present: %s", r)
				}
				return
			}
			if !found {
				t.Fatal("route missing")
			}
			for i := range r.Paths {
				r.Paths[i].Weight, r.Paths[i].Preference = 0, 0
			}
			if !slices.Equal(r.Paths, c.want) {
				t.Fatalf("paths = %v, want %v", r.Paths, c.want)
			}
		})
	}

	mustRetval(t, v.AddRoute(ctx, vpplink.Route{Table: 55, Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{gw1}}), vpplink.RetvalNoSuchFib)
	mustRetval(t, v.AddRoute(ctx, vpplink.Route{Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{{Gateway: addr("198.18.1.1"), SwIfIndex: 4242}}}), -54)
	// An IPv6 route with a next hop and no interface (resolved recursively).
	r6 := vpplink.Route{Prefix: pfx("2001:db8:1::/48"), Paths: []vpplink.RoutePath{{Gateway: addr("2001:db8::ff"), SwIfIndex: vpplink.InvalidSwIfIndex}}}
	if err := v.AddRoute(ctx, r6); err != nil {
		t.Fatal(err)
	}
	routes6, _ := v.Routes(ctx, vpplink.Table{IPv6: true})
	if got, ok := findRoute(routes6, r6.Prefix); !ok || got.Paths[0].Gateway != addr("2001:db8::ff") {
		t.Errorf("v6 route = %+v %v", got, ok)
	}
	if err := v.DelTable(ctx, vpplink.Table{ID: 100}); err != nil {
		t.Fatal(err)
	}
}

func TestBulkRoutes(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	routes := make([]vpplink.Route, 1000)
	for i := range routes {
		routes[i] = vpplink.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), 32),
			Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.2"), SwIfIndex: tun}}}
	}
	if err := v.AddRoutes(ctx, routes); err != nil {
		t.Fatal(err)
	}
	dumped, err := v.Routes(ctx, vpplink.Table{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range dumped {
		if pfx("198.19.0.0/16").Contains(r.Prefix.Addr()) {
			n++
		}
	}
	if n != len(routes) {
		t.Errorf("%d routes in 198.19.0.0/16, want %d", n, len(routes))
	}
	// One bad element fails alone; the others are applied.
	bad := []vpplink.Route{
		{Prefix: pfx("203.0.113.1/32"), Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.2"), SwIfIndex: tun}}},
		{Table: 77, Prefix: pfx("203.0.113.2/32"), Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.2"), SwIfIndex: tun}}},
		{Prefix: pfx("203.0.113.3/32"), Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.2"), SwIfIndex: tun}}},
	}
	err = v.AddRoutes(ctx, bad)
	var bulk *vpplink.BulkError
	if !errors.As(err, &bulk) || len(bulk.Failed) != 1 || bulk.Failed[0].Index != 1 || !vpplink.IsRetval(bulk.Failed[0].Err, vpplink.RetvalNoSuchFib) {
		t.Fatalf("err = %v, want a BulkError for element 1 only", err)
	}
	if err := v.DelRoutes(ctx, routes); err != nil {
		t.Fatal(err)
	}
	dumped, _ = v.Routes(ctx, vpplink.Table{})
	for _, r := range dumped {
		if pfx("198.19.0.0/16").Contains(r.Prefix.Addr()) {
			t.Fatalf("route %s left after bulk delete", r)
		}
	}
}

func TestLoopback(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	idx, err := v.CreateLoopback(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	i, err := v.Interface(ctx, idx)
	if err != nil || i.Name != "loop0" || i.MAC.String() != "de:ad:00:00:00:00" || i.LinkUp {
		t.Fatalf("loopback = %+v, %v", i, err)
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 0x42}
	if err := v.SetInterfaceMAC(ctx, idx, mac); err != nil {
		t.Fatal(err)
	}
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(ctx, idx); i.MAC.String() != mac.String() || !i.AdminUp || !i.LinkUp {
		t.Errorf("loopback after set = %+v", i)
	}
	if err := v.DeleteLoopback(ctx, idx); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteLoopback(ctx, idx), vpplink.RetvalInvalidSwIfIndex)
}

func TestNeighborsPuntProxy(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	tun, err := v.CreateLoopback(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := vpplink.Neighbor{SwIfIndex: tun, IP: addr("198.18.0.9"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}
	if err := v.AddNeighbor(ctx, n); err != nil {
		t.Fatal(err)
	}
	ns, err := v.Neighbors(ctx, vpplink.InvalidSwIfIndex, false)
	if err != nil || len(ns) != 1 || ns[0].IP != n.IP || ns[0].MAC.String() != n.MAC.String() {
		t.Errorf("neighbors = %+v, %v", ns, err)
	}
	if err := v.DelNeighbor(ctx, n); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelNeighbor(ctx, n), vpplink.RetvalNoSuchEntry)

	punt := vpplink.PuntRedirect{RxSwIfIndex: vpplink.InvalidSwIfIndex, Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.254"), SwIfIndex: tun}}}
	if err := v.AddPuntRedirect(ctx, punt); err != nil {
		t.Fatal(err)
	}
	punts, err := v.PuntRedirects(ctx, false)
	if err != nil || len(punts) != 1 || punts[0].RxSwIfIndex != vpplink.InvalidSwIfIndex || punts[0].Paths[0].Gateway != addr("198.18.0.254") {
		t.Errorf("punts = %+v, %v", punts, err)
	}
	if err := v.DelPuntRedirect(ctx, punt); err != nil {
		t.Fatal(err)
	}
	if punts, _ := v.PuntRedirects(ctx, false); len(punts) != 0 {
		t.Errorf("punts after delete = %+v", punts)
	}

	if err := v.AddProxyARP(ctx, 0, addr("198.18.0.10"), addr("198.18.0.20")); err != nil {
		t.Fatal(err)
	}
	if err := v.EnableProxyARP(ctx, tun, true); err != nil {
		t.Fatal(err)
	}
	if err := v.DelProxyARP(ctx, 0, addr("198.18.0.10"), addr("198.18.0.20")); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelProxyARP(ctx, 0, addr("198.18.0.10"), addr("198.18.0.20")), vpplink.RetvalNoSuchEntry)
	mustRetval(t, v.AddProxyARP(ctx, 9, addr("198.18.0.10"), addr("198.18.0.20")), vpplink.RetvalNoSuchFib)
	if err := v.AddProxyND(ctx, tun, addr("2001:db8::5")); err != nil {
		t.Fatal(err)
	}
	if err := v.EnableProxyND(ctx, tun, true); err != nil {
		t.Fatal(err)
	}
	if err := v.DelProxyND(ctx, tun, addr("2001:db8::5")); err != nil {
		t.Fatal(err)
	}
}

func TestTunnels(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	first := newIPIP(t, v, "198.18.0.1", "198.18.1.1")
	second := newIPIP(t, v, "198.18.0.1", "198.18.2.1")
	// The same endpoints again: IF_ALREADY_EXISTS.
	_, err := v.CreateIPIPTunnel(ctx, vpplink.IPIPTunnel{Src: addr("198.18.0.1"), Dst: addr("198.18.1.1")})
	mustRetval(t, err, vpplink.RetvalIfAlreadyExists)
	tunnels, err := v.IPIPTunnels(ctx)
	if err != nil || len(tunnels) != 2 || tunnels[0].SwIfIndex != first || tunnels[1].Dst != addr("198.18.2.1") {
		t.Fatalf("ipip tunnels = %+v, %v", tunnels, err)
	}
	if err := v.DeleteIPIPTunnel(ctx, second); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteIPIPTunnel(ctx, second), vpplink.RetvalNoSuchEntry)
	// A freed index is reused first.
	third := newIPIP(t, v, "198.18.0.1", "198.18.3.1")
	if third != second {
		t.Errorf("new tunnel got sw_if_index %d, want the freed %d", third, second)
	}

	vx := vpplink.VXLANTunnel{Src: addr("198.18.0.1"), Dst: addr("198.18.1.1"), VNI: 4096}
	vxIdx, err := v.CreateVXLANTunnel(ctx, vx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.CreateVXLANTunnel(ctx, vx)
	mustRetval(t, err, vpplink.RetvalTunnelExist)
	vxs, err := v.VXLANTunnels(ctx)
	if err != nil || len(vxs) != 1 || vxs[0].SwIfIndex != vxIdx || vxs[0].VNI != 4096 || vxs[0].DstPort != 4789 {
		t.Fatalf("vxlan tunnels = %+v, %v", vxs, err)
	}
	if i, _ := v.Interface(ctx, vxIdx); !i.AdminUp {
		t.Errorf("vxlan tunnel %+v is not admin up (VPP creates them up)", i)
	}
	if err := v.DeleteVXLANTunnel(ctx, vx); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteVXLANTunnel(ctx, vx), vpplink.RetvalNoSuchEntry)
}

func TestCnat(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	svc := vpplink.Translation{
		VIP: vpplink.Endpoint{Addr: addr("198.19.0.10"), Port: 80}, Proto: vpplink.ProtoTCP,
		Backends: []vpplink.Backend{
			{Dst: vpplink.Endpoint{Addr: addr("198.18.10.1"), Port: 8080}, Weight: 2},
			{Dst: vpplink.Endpoint{Addr: addr("198.18.10.2"), Port: 8080}},
		},
	}
	id, err := v.UpdateTranslation(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	svc.Backends = svc.Backends[1:]
	id2, err := v.UpdateTranslation(ctx, svc)
	if err != nil || id2 != id {
		t.Fatalf("update of the same VIP got id %d (%v), want %d", id2, err, id)
	}
	svc.Backends = append(svc.Backends, vpplink.Backend{Dst: vpplink.Endpoint{Addr: addr("198.18.10.3"), Port: 8080}, Weight: 3})
	if _, err := v.UpdateTranslation(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ts, err := v.Translations(ctx)
	if err != nil || len(ts) != 1 {
		t.Fatalf("translations = %+v, %v", ts, err)
	}
	got := ts[0]
	if got.ID != id || got.VIP != svc.VIP || got.Proto != vpplink.ProtoTCP || len(got.Backends) != 2 ||
		got.Backends[0].Dst != svc.Backends[0].Dst || got.Backends[0].Weight != 1 || got.Backends[1].Weight != 3 {
		t.Errorf("dumped translation = %+v", got)
	}
	// No backends: refused before VPP (VPP 25.10 would abort on it).
	_, err = v.UpdateTranslation(ctx, vpplink.Translation{VIP: vpplink.Endpoint{Addr: addr("198.19.0.11"), Port: 80}, Proto: vpplink.ProtoUDP})
	if !errors.Is(err, vpplink.ErrInvalid) || vpplink.IsRetriable(err) {
		t.Errorf("translation without backends: err = %v, want ErrInvalid", err)
	}
	if err := v.DelTranslation(ctx, id); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelTranslation(ctx, id), vpplink.RetvalNoSuchEntry)

	// Bulk: many translations at once.
	many := make([]vpplink.Translation, 300)
	for i := range many {
		many[i] = vpplink.Translation{VIP: vpplink.Endpoint{Addr: netip.AddrFrom4([4]byte{198, 19, 1, byte(i)}), Port: uint16(1000 + i)}, Proto: vpplink.ProtoTCP,
			Backends: []vpplink.Backend{{Dst: vpplink.Endpoint{Addr: addr("198.18.10.1"), Port: 80}}}}
	}
	ids, err := v.UpdateTranslations(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if ts, _ := v.Translations(ctx); len(ts) != len(many) {
		t.Errorf("%d translations, want %d", len(ts), len(many))
	}
	if err := v.DelTranslations(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if ts, _ := v.Translations(ctx); len(ts) != 0 {
		t.Errorf("%d translations left", len(ts))
	}

	snat := vpplink.SNATAddresses{IP4: addr("198.18.0.1"), IP6: addr("2001:db8::1"), SwIfIndex: vpplink.InvalidSwIfIndex}
	if err := v.SetSNATAddresses(ctx, snat); err != nil {
		t.Fatal(err)
	}
	if got, err := v.GetSNATAddresses(ctx); err != nil || got.IP4 != snat.IP4 || got.IP6 != snat.IP6 {
		t.Errorf("snat addresses = %+v, %v", got, err)
	}
	if err := v.SetSNATPolicy(ctx, vpplink.SNATPolicyK8s); err != nil {
		t.Fatal(err)
	}
	if err := v.AddSNATExcludePrefix(ctx, pfx("198.18.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := v.DelSNATExcludePrefix(ctx, pfx("198.18.0.0/16")); err != nil {
		t.Fatal(err)
	}
	// Deleting a missing prefix: VPP answers +1.
	mustRetval(t, v.DelSNATExcludePrefix(ctx, pfx("198.18.0.0/16")), 1)
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	if err := v.SetSNATInterface(ctx, tun, vpplink.SNATPod, true); err != nil {
		t.Fatal(err)
	}
	if err := v.EnableCnat(ctx, tun, true); err != nil {
		t.Fatal(err)
	}
}

func TestACLs(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	rules := []vpplink.ACLRule{
		{Action: vpplink.ACLPermit, Src: pfx("198.18.0.0/16"), Dst: pfx("0.0.0.0/0"), Proto: vpplink.ProtoTCP, SrcPortLast: 65535, DstPortFirst: 80, DstPortLast: 80},
		{Action: vpplink.ACLDeny, Src: pfx("0.0.0.0/0"), Dst: pfx("0.0.0.0/0")},
	}
	idx, err := v.AddACL(ctx, vpplink.ACL{Tag: "calico-vpp:policy-a", Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	acls, err := v.ACLs(ctx)
	if err != nil || len(acls) != 1 || acls[0].Index != idx || acls[0].Tag != "calico-vpp:policy-a" || !slices.Equal(acls[0].Rules, rules) {
		t.Fatalf("acls = %+v, %v", acls, err)
	}
	if err := v.ReplaceACL(ctx, idx, vpplink.ACL{Tag: "calico-vpp:policy-a", Rules: rules[1:]}); err != nil {
		t.Fatal(err)
	}
	if acls, _ := v.ACLs(ctx); len(acls[0].Rules) != 1 {
		t.Errorf("rules after replace = %+v", acls[0].Rules)
	}
	mustRetval(t, v.ReplaceACL(ctx, idx+10, vpplink.ACL{Rules: rules}), vpplink.RetvalNoSuchEntry)
	_, err = v.AddACL(ctx, vpplink.ACL{Rules: []vpplink.ACLRule{{Src: pfx("198.18.0.1/16"), Dst: pfx("0.0.0.0/0")}}})
	mustRetval(t, err, -57)

	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	binding := vpplink.InterfaceACLs{SwIfIndex: tun, Input: []uint32{idx}}
	if err := v.SetInterfaceACLs(ctx, binding); err != nil {
		t.Fatal(err)
	}
	bound, err := v.AllInterfaceACLs(ctx)
	if err != nil || len(bound) != 1 || bound[0].SwIfIndex != tun || !slices.Equal(bound[0].Input, []uint32{idx}) || len(bound[0].Output) != 0 {
		t.Fatalf("bindings = %+v, %v", bound, err)
	}
	mustRetval(t, v.DelACL(ctx, idx), -142)
	if err := v.SetInterfaceACLs(ctx, vpplink.InterfaceACLs{SwIfIndex: tun}); err != nil {
		t.Fatal(err)
	}
	if err := v.DelACL(ctx, idx); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelACL(ctx, idx), vpplink.RetvalNoSuchEntry)
	mustRetval(t, v.SetInterfaceACLs(ctx, vpplink.InterfaceACLs{SwIfIndex: tun, Input: []uint32{idx}}), vpplink.RetvalNoSuchEntry)
}

func TestCLI(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	if err := v.AddRoute(ctx, vpplink.Route{Prefix: pfx("203.0.113.0/24"), Paths: []vpplink.RoutePath{{Gateway: addr("198.18.0.2"), SwIfIndex: tun}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ cmd, want string }{
		{"show version", "vpp v25.10"},
		{"show interface", "ipip0"},
		{"show interface addr", "local0 (dn):"},
		{"show ip fib", "203.0.113.0/24"},
		{"show ip6 fib", "::/0"},
		{"show ipip tunnel", "src 198.18.0.1 dst 198.18.0.2"},
		{"show vxlan tunnel", "No vxlan tunnels configured"},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			out, err := v.CLI(ctx, c.cmd)
			if err != nil || !strings.Contains(out, c.want) {
				t.Errorf("%q = %q, %v; want it to contain %q", c.cmd, out, err, c.want)
			}
		})
	}
	if _, err := v.CLI(ctx, "frobnicate now"); !vpplink.IsRetval(err, vpplink.RetvalUnspecified) {
		t.Errorf("unknown command err = %v, want retval -1", err)
	}
}

func TestInterfaceEvents(t *testing.T) {
	v := vpptest.New(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	events := make(chan vpplink.InterfaceEvent, 16)
	watchErr := make(chan error, 1)
	var g errgroup.Group
	defer func() { _ = g.Wait() }()
	g.Go(func() error {
		watchErr <- v.WatchInterfaceEvents(ctx, func(e vpplink.InterfaceEvent) { events <- e })
		return nil
	})
	// The subscription is in place once VPP has answered want_interface_events;
	// retry the trigger until an event for it arrives.
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	deadline := time.After(10 * time.Second)
	for up := true; ; up = !up {
		if err := v.SetInterfaceUp(ctx, tun, up); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			if e.SwIfIndex == tun {
				cancel()
				if err := <-watchErr; err != nil {
					t.Errorf("watch: %v", err)
				}
				return
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no interface event within 10s")
		}
	}
}

func TestRequestChecksAndExistingIndexes(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	// Family mistakes are refused before VPP sees them.
	_, err := v.CreateTap(ctx, vpplink.Tap{HostIP4: pfx("2001:db8::1/128")})
	if !errors.Is(err, vpplink.ErrInvalid) {
		t.Errorf("tap with an IPv6 HostIP4: %v", err)
	}
	if err := v.SetSNATAddresses(ctx, vpplink.SNATAddresses{IP4: addr("2001:db8::1")}); !errors.Is(err, vpplink.ErrInvalid) {
		t.Errorf("IPv6 SNAT IP4: %v", err)
	}
	if err := v.SetInterfaceTag(ctx, 0, strings.Repeat("x", 64)); !errors.Is(err, vpplink.ErrInvalid) {
		t.Errorf("64-byte tag: %v", err)
	}
	// IF_ALREADY_EXISTS comes with the existing interface's index.
	first := newIPIP(t, v, "198.18.0.1", "198.18.9.9")
	again, err := v.CreateIPIPTunnel(ctx, vpplink.IPIPTunnel{Src: addr("198.18.0.1"), Dst: addr("198.18.9.9")})
	if !vpplink.IsRetval(err, vpplink.RetvalIfAlreadyExists) || again != first {
		t.Errorf("duplicate tunnel = %d, %v; want %d with IF_ALREADY_EXISTS", again, err, first)
	}
	// A zero ACL prefix means any, of the other side's family.
	idx, err := v.AddACL(ctx, vpplink.ACL{Tag: "any", Rules: []vpplink.ACLRule{{Action: vpplink.ACLPermit, Dst: pfx("2001:db8::/32")}}})
	if err != nil {
		t.Fatal(err)
	}
	acls, _ := v.ACLs(ctx)
	for _, a := range acls {
		if a.Index == idx && a.Rules[0].Src != pfx("::/0") {
			t.Errorf("zero source became %s, want ::/0", a.Rules[0].Src)
		}
	}
	// Subscribing twice in a row works: each watch unsubscribes when done.
	for range 2 {
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if err := v.WatchInterfaceEvents(wctx, func(vpplink.InterfaceEvent) {}); err != nil {
			t.Fatalf("watch: %v", err)
		}
		cancel()
	}
}
