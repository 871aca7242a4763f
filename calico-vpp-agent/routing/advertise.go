package routing

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

// LargeCommunity is an RFC 8092 community.
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

// Advertisement is one prefix the node originates.
type Advertisement struct {
	Prefix      netip.Prefix
	Communities []uint32 // standard, aa<<16 | nn
	Large       []LargeCommunity
}

// Equal compares advertisements (communities in order).
func (a Advertisement) Equal(b Advertisement) bool {
	return a.Prefix == b.Prefix && slices.Equal(a.Communities, b.Communities) && slices.Equal(a.Large, b.Large)
}

// Advertisements are what node originates: its IPAM blocks (Calico IPAM),
// or podCIDRs (the Kubernetes node's spec.podCIDRs, with host-local IPAM),
// except pools that opt out of BGP export; and the service ranges the
// default BGPConfiguration lists. Communities come from the default
// BGPConfiguration's prefixAdvertisements (the most specific CIDR holding
// the prefix).
func Advertisements(st inputs.CalicoState, node string, podCIDRs []netip.Prefix) (map[netip.Prefix]Advertisement, []error) {
	var errs []error
	prefixes := map[netip.Prefix]bool{}
	for cidr, b := range st.BlockAffinities {
		if b.Host == node && exported(cidr, st.IPPools) {
			prefixes[cidr.Masked()] = true
		}
	}
	for _, p := range podCIDRs {
		if exported(p, st.IPPools) {
			prefixes[p.Masked()] = true
		}
	}
	def := st.BGPConfigurations["default"]
	if def != nil {
		var svc []string
		for _, b := range def.Spec.ServiceClusterIPs {
			svc = append(svc, b.CIDR)
		}
		for _, b := range def.Spec.ServiceExternalIPs {
			svc = append(svc, b.CIDR)
		}
		for _, b := range def.Spec.ServiceLoadBalancerIPs {
			svc = append(svc, b.CIDR)
		}
		for _, s := range svc {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, &ConfigError{"BGPConfiguration/default", "spec.service*IPs[].cidr", fmt.Errorf("%q: %w", s, err)})
				continue
			}
			prefixes[p.Masked()] = true
		}
	}
	rules, ruleErrs := communityRules(def)
	errs = append(errs, ruleErrs...)
	out := make(map[netip.Prefix]Advertisement, len(prefixes))
	for p := range prefixes {
		a := Advertisement{Prefix: p}
		best := -1
		for cidr, r := range rules {
			if cidr.Bits() <= p.Bits() && cidr.Contains(p.Addr()) && cidr.Bits() > best {
				best = cidr.Bits()
				a.Communities, a.Large = r.Communities, r.Large
			}
		}
		out[p] = a
	}
	return out, errs
}

// exported: pools with disableBGPExport keep their blocks to themselves.
func exported(p netip.Prefix, pools map[netip.Prefix]inputs.IPPool) bool {
	pool, ok := poolOf(p, pools)
	return !ok || !pool.DisableBGPExport
}

// communityRules parses prefixAdvertisements, resolving community names.
func communityRules(def *apiv3.BGPConfiguration) (map[netip.Prefix]Advertisement, []error) {
	out := map[netip.Prefix]Advertisement{}
	if def == nil {
		return out, nil
	}
	named := map[string]string{}
	for _, c := range def.Spec.Communities {
		named[c.Name] = c.Value
	}
	var errs []error
	for i, pa := range def.Spec.PrefixAdvertisements {
		field := fmt.Sprintf("spec.prefixAdvertisements[%d]", i)
		cidr, err := netip.ParsePrefix(pa.CIDR)
		if err != nil {
			errs = append(errs, &ConfigError{"BGPConfiguration/default", field + ".cidr", fmt.Errorf("%q: %w", pa.CIDR, err)})
			continue
		}
		var a Advertisement
		ok := true
		for j, c := range pa.Communities {
			if v, isName := named[c]; isName {
				c = v
			}
			std, large, err := parseCommunity(c)
			if err != nil {
				errs = append(errs, &ConfigError{"BGPConfiguration/default", fmt.Sprintf("%s.communities[%d]", field, j), err})
				ok = false
				break
			}
			if large != nil {
				a.Large = append(a.Large, *large)
			} else {
				a.Communities = append(a.Communities, std)
			}
		}
		if ok {
			out[cidr.Masked()] = a
		}
	}
	return out, errs
}

// parseCommunity reads "aa:nn" (standard, 16-bit parts) or "aa:nn:mm"
// (large, 32-bit parts).
func parseCommunity(s string) (uint32, *LargeCommunity, error) {
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 2:
		var v [2]uint64
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return 0, nil, fmt.Errorf("community %q: %q is not a 16-bit number", s, p)
			}
			v[i] = n
		}
		return uint32(v[0]<<16 | v[1]), nil, nil
	case 3:
		var v [3]uint32
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return 0, nil, fmt.Errorf("large community %q: %q is not a 32-bit number", s, p)
			}
			v[i] = uint32(n)
		}
		return 0, &LargeCommunity{v[0], v[1], v[2]}, nil
	}
	return 0, nil, fmt.Errorf("community %q: want aa:nn or aa:nn:mm", s)
}
