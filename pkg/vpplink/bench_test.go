package vpplink_test

// Benchmarks of the VPP layer against a VPP process over the API socket
// (fakevpp by default, VPP_BINARY for a real one):
//
//	go test ./pkg/vpplink -run '^$' -bench . -benchtime 1x
//
// Metrics: routes/s and translations/s. BenchmarkRoutesGovppPipelined is
// the baseline: plain govpp pipelining the same messages in the same run;
// the layer's bulk path is meant to reach at least 0.8x of it.

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.fd.io/govpp/adapter/socketclient"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/fib_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/core"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

const benchRoutes = 100_000

func benchRouteSet(n int, gw netip.Addr, sw vpplink.SwIfIndex) []vpplink.Route {
	routes := make([]vpplink.Route, n)
	for i := range routes {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		routes[i] = vpplink.Route{Prefix: netip.PrefixFrom(a, 32), Paths: []vpplink.RoutePath{{Gateway: gw, SwIfIndex: sw}}}
	}
	return routes
}

// benchVPP starts a VPP and an uplink-like interface for the next hops.
func benchVPP(b *testing.B) (*vpptest.Instance, vpplink.SwIfIndex) {
	b.Helper()
	inst := vpptest.Start(b, vpptest.Options{})
	ctx := context.Background()
	sw, err := inst.VPP.CreateIPIPTunnel(ctx, vpplink.IPIPTunnel{Src: netip.MustParseAddr("203.0.113.1"), Dst: netip.MustParseAddr("203.0.113.2")})
	if err != nil {
		b.Fatal(err)
	}
	if err := inst.VPP.SetInterfaceUp(ctx, sw, true); err != nil {
		b.Fatal(err)
	}
	return inst, sw
}

// measure times apply (undone, untimed, by undo after each iteration) and
// reports n objects per iteration as a rate named unit.
func measure(b *testing.B, n int, unit string, apply, undo func() error) {
	b.Helper()
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		if err := apply(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if err := undo(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), unit)
}

func BenchmarkRoutesBulk(b *testing.B) {
	inst, sw := benchVPP(b)
	ctx := context.Background()
	routes := benchRouteSet(benchRoutes, netip.MustParseAddr("203.0.113.2"), sw)
	measure(b, len(routes), "routes/s",
		func() error { return inst.VPP.AddRoutes(ctx, routes) },
		func() error { return inst.VPP.DelRoutes(ctx, routes) })
}

func BenchmarkRoutesSingle(b *testing.B) {
	inst, sw := benchVPP(b)
	ctx := context.Background()
	routes := benchRouteSet(5_000, netip.MustParseAddr("203.0.113.2"), sw)
	measure(b, len(routes), "routes/s",
		func() error {
			for _, r := range routes {
				if err := inst.VPP.AddRoute(ctx, r); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return inst.VPP.DelRoutes(ctx, routes) })
}

// BenchmarkRoutesGovppPipelined is the baseline: the same ip_route_add_del
// messages sent by plain govpp on one stream, window by window.
func BenchmarkRoutesGovppPipelined(b *testing.B) {
	inst, sw := benchVPP(b)
	conn, err := core.Connect(socketclient.NewVppClient(inst.APISocket))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Disconnect()
	ctx := context.Background()
	const window = 256
	msgs := make([]*ip.IPRouteAddDel, benchRoutes)
	for i := range msgs {
		a := [4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}
		var nh ip_types.AddressUnion
		nh.SetIP4([4]byte{203, 0, 113, 2})
		msgs[i] = &ip.IPRouteAddDel{IsAdd: true, Route: ip.IPRoute{
			Prefix: ip_types.Prefix{Address: ip_types.Address{Af: ip_types.ADDRESS_IP4, Un: ip_types.AddressUnionIP4(a)}, Len: 32},
			NPaths: 1, Paths: []fib_types.FibPath{{SwIfIndex: uint32(sw), Weight: 1, Proto: fib_types.FIB_API_PATH_NH_PROTO_IP4, Nh: fib_types.FibPathNh{Address: nh}}},
		}}
	}
	pipelined := func() error {
		stream, err := conn.NewStream(ctx, core.WithRequestSize(window), core.WithReplySize(window))
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		for lo := 0; lo < len(msgs); lo += window {
			hi := min(lo+window, len(msgs))
			for _, m := range msgs[lo:hi] {
				if err := stream.SendMsg(m); err != nil {
					return err
				}
			}
			for range msgs[lo:hi] {
				reply, err := stream.RecvMsg()
				if err != nil {
					return err
				}
				if r := reply.(*ip.IPRouteAddDelReply); r.Retval != 0 {
					return api.RetvalToVPPApiError(r.Retval)
				}
			}
		}
		return nil
	}
	routes := benchRouteSet(benchRoutes, netip.MustParseAddr("203.0.113.2"), sw)
	measure(b, benchRoutes, "routes/s", pipelined, func() error { return inst.VPP.DelRoutes(ctx, routes) })
}

func BenchmarkCnatTranslationsBulk(b *testing.B) {
	inst := vpptest.Start(b, vpptest.Options{})
	ctx := context.Background()
	const n = 10_000
	ts := make([]vpplink.Translation, n)
	for i := range ts {
		vip := netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		t := vpplink.Translation{VIP: vpplink.Endpoint{Addr: vip, Port: 80}, Proto: vpplink.ProtoTCP}
		for k := range 3 {
			t.Backends = append(t.Backends, vpplink.Backend{Dst: vpplink.Endpoint{Addr: netip.AddrFrom4([4]byte{198, 18, byte(k + 1), byte(i)}), Port: 8080}})
		}
		ts[i] = t
	}
	var ids []uint32
	measure(b, n, "translations/s",
		func() (err error) { ids, err = inst.VPP.UpdateTranslations(ctx, ts); return err },
		func() error { return inst.VPP.DelTranslations(ctx, ids) })
}
