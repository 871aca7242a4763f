package routing

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

// Calico's VXLAN parameters.
const (
	VXLANVNI  = 4096
	VXLANPort = 4789
)

// Learned are the best paths the speaker knows, as next hops by prefix.
type Learned map[netip.Prefix][]netip.Addr

// TunnelType is ipip or vxlan.
type TunnelType string

// Tunnel types.
const (
	TunnelIPIP  TunnelType = "ipip"
	TunnelVXLAN TunnelType = "vxlan"
)

// TunnelKey identifies a tunnel to a peer node.
type TunnelKey struct {
	Type     TunnelType
	Src, Dst netip.Addr
	VNI      uint32 // vxlan only
}

// IsZero reports whether k names no tunnel (a plain route).
func (k TunnelKey) IsZero() bool { return k.Type == "" }

func (k TunnelKey) String() string {
	s := string(k.Type) + ":" + k.Src.String() + "->" + k.Dst.String()
	if k.Type == TunnelVXLAN {
		s += ":" + strconv.FormatUint(uint64(k.VNI), 10)
	}
	return s
}

// ParseTunnelKey reverses TunnelKey.String.
func ParseTunnelKey(s string) (TunnelKey, error) {
	typ, rest, ok := strings.Cut(s, ":")
	if !ok || (typ != string(TunnelIPIP) && typ != string(TunnelVXLAN)) {
		return TunnelKey{}, fmt.Errorf("tunnel key %q", s)
	}
	k := TunnelKey{Type: TunnelType(typ)}
	if k.Type == TunnelVXLAN {
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return TunnelKey{}, fmt.Errorf("tunnel key %q: no VNI", s)
		}
		vni, err := strconv.ParseUint(rest[i+1:], 10, 32)
		if err != nil {
			return TunnelKey{}, fmt.Errorf("tunnel key %q: %w", s, err)
		}
		k.VNI, rest = uint32(vni), rest[:i]
	}
	src, dst, ok := strings.Cut(rest, "->")
	if !ok {
		return TunnelKey{}, fmt.Errorf("tunnel key %q", s)
	}
	var err error
	if k.Src, err = netip.ParseAddr(src); err != nil {
		return TunnelKey{}, fmt.Errorf("tunnel key %q: %w", s, err)
	}
	if k.Dst, err = netip.ParseAddr(dst); err != nil {
		return TunnelKey{}, fmt.Errorf("tunnel key %q: %w", s, err)
	}
	return k, nil
}

// PathSpec is one next hop of a route: through a tunnel to the next hop,
// or (no tunnel) straight to it.
type PathSpec struct {
	Gateway netip.Addr
	Tunnel  TunnelKey
}

// RouteSpec is a learned route as VPP should have it.
type RouteSpec struct {
	Prefix netip.Prefix
	Paths  []PathSpec // sorted by gateway
}

// Underlay is what decides encapsulation besides the pool: the node's
// addresses, whose prefixes are the uplink's subnets.
type Underlay struct {
	NodeIPv4, NodeIPv6 netip.Prefix
}

func (u Underlay) local(family netip.Addr) netip.Prefix {
	if family.Is4() {
		return u.NodeIPv4
	}
	return u.NodeIPv6
}

// DesiredRoutes turns learned paths into VPP routes and the tunnels they
// need. A pool's ipipMode/vxlanMode decide: Always encapsulates,
// CrossSubnet only towards next hops outside the node's subnet, Never (or
// no pool) routes via the next hop. Paths back to this node and prefixes
// the node originates itself are skipped.
func DesiredRoutes(learned Learned, own map[netip.Prefix]Advertisement, pools map[netip.Prefix]inputs.IPPool, u Underlay) (map[TunnelKey]struct{}, map[netip.Prefix]RouteSpec) {
	tunnels := map[TunnelKey]struct{}{}
	routes := map[netip.Prefix]RouteSpec{}
	for prefix, hops := range learned {
		if _, mine := own[prefix]; mine {
			continue
		}
		pool, hasPool := poolOf(prefix, pools)
		var paths []PathSpec
		for _, nh := range hops {
			local := u.local(nh)
			if local.IsValid() && local.Addr() == nh {
				continue
			}
			p := PathSpec{Gateway: nh}
			if hasPool && local.IsValid() {
				sameSubnet := local.Masked().Contains(nh)
				switch {
				case encapsulates(pool.VXLANMode, sameSubnet):
					p.Tunnel = TunnelKey{Type: TunnelVXLAN, Src: local.Addr(), Dst: nh, VNI: VXLANVNI}
				case encapsulates(pool.IPIPMode, sameSubnet):
					p.Tunnel = TunnelKey{Type: TunnelIPIP, Src: local.Addr(), Dst: nh}
				}
			}
			if !p.Tunnel.IsZero() {
				tunnels[p.Tunnel] = struct{}{}
			}
			paths = append(paths, p)
		}
		if len(paths) == 0 {
			continue
		}
		slices.SortFunc(paths, func(a, b PathSpec) int { return a.Gateway.Compare(b.Gateway) })
		paths = slices.CompactFunc(paths, func(a, b PathSpec) bool { return a == b })
		routes[prefix] = RouteSpec{Prefix: prefix, Paths: paths}
	}
	return tunnels, routes
}

func encapsulates(m inputs.EncapMode, sameSubnet bool) bool {
	return m == inputs.EncapAlways || (m == inputs.EncapCrossSubnet && !sameSubnet)
}

// poolOf is the most specific pool holding the whole prefix.
func poolOf(p netip.Prefix, pools map[netip.Prefix]inputs.IPPool) (inputs.IPPool, bool) {
	var best inputs.IPPool
	found := false
	for cidr, pool := range pools {
		if cidr.Bits() <= p.Bits() && cidr.Contains(p.Addr()) && (!found || cidr.Bits() > best.CIDR.Bits()) {
			best, found = pool, true
		}
	}
	return best, found
}
