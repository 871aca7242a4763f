package routing

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

func mp(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ma(s string) netip.Addr   { return netip.MustParseAddr(s) }

func TestDesiredRoutes(t *testing.T) {
	u := Underlay{NodeIPv4: mp("198.18.0.11/24"), NodeIPv6: mp("2001:db8::11/64")}
	pool := func(cidr string, ipip, vxlan inputs.EncapMode) map[netip.Prefix]inputs.IPPool {
		return map[netip.Prefix]inputs.IPPool{mp(cidr): {CIDR: mp(cidr), IPIPMode: ipip, VXLANMode: vxlan}}
	}
	ipip := func(dst string) TunnelKey { return TunnelKey{Type: TunnelIPIP, Src: ma("198.18.0.11"), Dst: ma(dst)} }
	vxlan := func(src, dst string) TunnelKey {
		return TunnelKey{Type: TunnelVXLAN, Src: ma(src), Dst: ma(dst), VNI: VXLANVNI}
	}
	cases := []struct {
		name    string
		learned Learned
		own     map[netip.Prefix]Advertisement
		pools   map[netip.Prefix]inputs.IPPool
		want    map[netip.Prefix][]PathSpec
	}{
		{"IPIP Always: through a tunnel, even on the same subnet",
			Learned{mp("198.19.2.0/26"): {ma("198.18.0.12")}}, nil, pool("198.19.0.0/16", inputs.EncapAlways, inputs.EncapNever),
			map[netip.Prefix][]PathSpec{mp("198.19.2.0/26"): {{Gateway: ma("198.18.0.12"), Tunnel: ipip("198.18.0.12")}}}},
		{"IPIP CrossSubnet: plain on the subnet, tunnel beyond",
			Learned{mp("198.19.2.0/26"): {ma("198.18.0.12")}, mp("198.19.3.0/26"): {ma("198.51.100.7")}}, nil,
			pool("198.19.0.0/16", inputs.EncapCrossSubnet, inputs.EncapNever),
			map[netip.Prefix][]PathSpec{
				mp("198.19.2.0/26"): {{Gateway: ma("198.18.0.12")}},
				mp("198.19.3.0/26"): {{Gateway: ma("198.51.100.7"), Tunnel: ipip("198.51.100.7")}},
			}},
		{"VXLAN Always over IPv6",
			Learned{mp("2001:db8:100:2::/122"): {ma("2001:db8::12")}}, nil, pool("2001:db8:100::/48", inputs.EncapNever, inputs.EncapAlways),
			map[netip.Prefix][]PathSpec{mp("2001:db8:100:2::/122"): {{Gateway: ma("2001:db8::12"), Tunnel: vxlan("2001:db8::11", "2001:db8::12")}}}},
		{"Never, and no pool: via the next hop",
			Learned{mp("198.19.2.0/26"): {ma("198.18.0.12")}, mp("203.0.113.0/24"): {ma("198.18.0.1")}}, nil,
			pool("198.19.0.0/16", inputs.EncapNever, inputs.EncapNever),
			map[netip.Prefix][]PathSpec{mp("198.19.2.0/26"): {{Gateway: ma("198.18.0.12")}}, mp("203.0.113.0/24"): {{Gateway: ma("198.18.0.1")}}}},
		{"ECMP: one path per next hop, sorted; paths back to this node and own prefixes skipped",
			Learned{mp("203.0.113.0/24"): {ma("198.18.0.3"), ma("198.18.0.2"), ma("198.18.0.11")}, mp("198.19.1.0/26"): {ma("198.18.0.12")}},
			map[netip.Prefix]Advertisement{mp("198.19.1.0/26"): {Prefix: mp("198.19.1.0/26")}}, nil,
			map[netip.Prefix][]PathSpec{mp("203.0.113.0/24"): {{Gateway: ma("198.18.0.2")}, {Gateway: ma("198.18.0.3")}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tunnels, routes := DesiredRoutes(c.learned, c.own, c.pools, u)
			got := map[netip.Prefix][]PathSpec{}
			wantTunnels := map[TunnelKey]struct{}{}
			for p, r := range routes {
				got[p] = r.Paths
			}
			for _, paths := range c.want {
				for _, p := range paths {
					if !p.Tunnel.IsZero() {
						wantTunnels[p.Tunnel] = struct{}{}
					}
				}
			}
			if !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(tunnels, wantTunnels) {
				t.Errorf("routes = %v\ntunnels = %v\nwant %v and %v", got, tunnels, c.want, wantTunnels)
			}
		})
	}
}

func TestTunnelKeyRoundTrip(t *testing.T) {
	for _, k := range []TunnelKey{
		{Type: TunnelIPIP, Src: ma("198.18.0.11"), Dst: ma("198.18.0.12")},
		{Type: TunnelVXLAN, Src: ma("2001:db8::11"), Dst: ma("2001:db8::12"), VNI: 4096},
	} {
		got, err := ParseTunnelKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseTunnelKey(%q) = %v, %v", k, got, err)
		}
	}
	for _, bad := range []string{"gre:1.1.1.1->2.2.2.2", "vxlan:1.1.1.1->2.2.2.2", "ipip:x->2.2.2.2"} {
		if _, err := ParseTunnelKey(bad); err == nil {
			t.Errorf("ParseTunnelKey(%q) accepted", bad)
		}
	}
}

func TestAdvertisements(t *testing.T) {
	st := inputs.CalicoState{
		IPPools: map[netip.Prefix]inputs.IPPool{
			mp("198.19.0.0/16"):  {CIDR: mp("198.19.0.0/16")},
			mp("198.19.64.0/18"): {CIDR: mp("198.19.64.0/18"), DisableBGPExport: true},
		},
		BlockAffinities: map[netip.Prefix]inputs.BlockAffinity{
			mp("198.19.1.0/26"):        {CIDR: mp("198.19.1.0/26"), Host: "node-a"},
			mp("198.19.2.0/26"):        {CIDR: mp("198.19.2.0/26"), Host: "node-b"},
			mp("198.19.64.0/26"):       {CIDR: mp("198.19.64.0/26"), Host: "node-a"},
			mp("2001:db8:100:1::/122"): {CIDR: mp("2001:db8:100:1::/122"), Host: "node-a"},
		},
		BGPConfigurations: map[string]*apiv3.BGPConfiguration{"default": bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) {
			c.ServiceClusterIPs = []apiv3.ServiceClusterIPBlock{{CIDR: "198.18.128.0/20"}}
			c.ServiceExternalIPs = []apiv3.ServiceExternalIPBlock{{CIDR: "bad"}}
			c.Communities = []apiv3.Community{{Name: "pods", Value: "64512:100"}}
			c.PrefixAdvertisements = []apiv3.PrefixAdvertisement{
				{CIDR: "198.19.0.0/16", Communities: []string{"pods", "64512:1:2"}},
				{CIDR: "198.18.128.0/20", Communities: []string{"99999:1"}},
			}
		})},
	}
	ads, errs := Advertisements(st, "node-a", []netip.Prefix{mp("198.19.200.0/24")})
	want := []string{"198.18.128.0/20", "198.19.1.0/26", "198.19.200.0/24", "2001:db8:100:1::/122"}
	var got []string
	for p := range ads {
		got = append(got, p.String())
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(want) {
		t.Errorf("advertised %v, want %v (no other node's block, no pool with disableBGPExport)", sorted(got), want)
	}
	if a := ads[mp("198.19.1.0/26")]; len(a.Communities) != 1 || a.Communities[0] != 64512<<16|100 || len(a.Large) != 1 || a.Large[0] != (LargeCommunity{64512, 1, 2}) {
		t.Errorf("block communities = %+v", a)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, `spec.service*IPs[].cidr: "bad"`) || !strings.Contains(joined, `spec.prefixAdvertisements[1].communities[0]: community "99999:1"`) {
		t.Errorf("errors = %s", joined)
	}
}

func sorted(s []string) []string {
	return slices.Sorted(slices.Values(s))
}
