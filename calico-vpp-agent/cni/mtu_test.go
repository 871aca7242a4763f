package cni

import (
	"net/netip"
	"testing"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

func TestPodMTU(t *testing.T) {
	pool := func(cidr string, ipip, vxlan inputs.EncapMode) inputs.IPPool {
		return inputs.IPPool{CIDR: netip.MustParsePrefix(cidr), IPIPMode: ipip, VXLANMode: vxlan}
	}
	pools := func(ps ...inputs.IPPool) map[netip.Prefix]inputs.IPPool {
		m := map[netip.Prefix]inputs.IPPool{}
		for _, p := range ps {
			m[p.CIDR] = p
		}
		return m
	}
	v4 := netip.MustParsePrefix("198.18.100.2/32")
	v6 := netip.MustParsePrefix("2001:db8:100::2/128")
	never, always, cross := inputs.EncapNever, inputs.EncapAlways, inputs.EncapCrossSubnet
	cases := []struct {
		name      string
		addrs     []netip.Prefix
		requested int
		pools     map[netip.Prefix]inputs.IPPool
		want      int
	}{
		{"no pool", []netip.Prefix{v4}, 0, nil, 1500},
		{"no encapsulation", []netip.Prefix{v4}, 0, pools(pool("198.18.0.0/16", never, never)), 1500},
		{"ipip", []netip.Prefix{v4}, 0, pools(pool("198.18.0.0/16", always, never)), 1480},
		{"vxlan cross-subnet", []netip.Prefix{v4}, 0, pools(pool("198.18.0.0/16", never, cross)), 1450},
		{"ipv6 vxlan", []netip.Prefix{v6}, 0, pools(pool("2001:db8::/32", never, always)), 1430},
		{"dual stack takes the larger overhead", []netip.Prefix{v4, v6}, 0,
			pools(pool("198.18.0.0/16", always, never), pool("2001:db8::/32", never, always)), 1430},
		{"most specific pool wins", []netip.Prefix{v4}, 0,
			pools(pool("198.18.0.0/15", never, always), pool("198.18.100.0/24", never, never)), 1500},
		{"a smaller requested MTU is kept", []netip.Prefix{v4}, 1400, pools(pool("198.18.0.0/16", never, always)), 1400},
		{"a larger requested MTU is lowered", []netip.Prefix{v4}, 1500, pools(pool("198.18.0.0/16", never, always)), 1450},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PodMTU(Pod{Addresses: c.addrs, MTU: c.requested}, 1500, c.pools); got != c.want {
				t.Errorf("PodMTU = %d, want %d", got, c.want)
			}
		})
	}
}
