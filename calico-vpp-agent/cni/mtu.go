package cni

import (
	"net/netip"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

// encapOverhead is what tunnelling a pool's traffic between nodes adds to
// each packet: the outer IP header (IPv4 20, IPv6 40), plus for VXLAN the
// UDP and VXLAN headers and the inner Ethernet header (30). Calico's pools
// tunnel over their own family. CrossSubnet counts: some peers need it.
func encapOverhead(pool inputs.IPPool) int {
	outer := 20
	if pool.CIDR.Addr().Is6() {
		outer = 40
	}
	switch {
	case pool.VXLANMode == inputs.EncapAlways || pool.VXLANMode == inputs.EncapCrossSubnet:
		return outer + 30
	case pool.IPIPMode == inputs.EncapAlways || pool.IPIPMode == inputs.EncapCrossSubnet:
		return outer
	}
	return 0
}

// poolOf is the most specific pool holding a.
func poolOf(a netip.Addr, pools map[netip.Prefix]inputs.IPPool) (inputs.IPPool, bool) {
	var best inputs.IPPool
	found := false
	for cidr, p := range pools {
		if cidr.Contains(a) && (!found || cidr.Bits() > best.CIDR.Bits()) {
			best, found = p, true
		}
	}
	return best, found
}

// PodMTU is the MTU of the pod's interface: the uplink's less the largest
// encapsulation overhead among the pools of the pod's addresses. A smaller
// MTU the request asked for is kept; a larger one is lowered, since
// packets above the limit could not cross to other nodes.
func PodMTU(pod Pod, uplinkMTU int, pools map[netip.Prefix]inputs.IPPool) int {
	overhead := 0
	for _, a := range pod.Addresses {
		if pool, ok := poolOf(a.Addr(), pools); ok {
			overhead = max(overhead, encapOverhead(pool))
		}
	}
	limit := uplinkMTU - overhead
	if pod.MTU > 0 && pod.MTU < limit {
		return pod.MTU
	}
	return limit
}
