package vpptest

import (
	"context"
	"sort"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// Paths renders VPP's routes to the given prefixes (main tables, both
// families), each path as "ipip-><dst>" or "vxlan-><dst>" through a
// tunnel, else "via <gateway>"; sorted. A prefix VPP has no route to is
// absent.
func Paths(ctx context.Context, v *vpplink.VPP, prefixes ...string) (map[string][]string, error) {
	tunnels := map[vpplink.SwIfIndex]string{}
	ipip, err := v.IPIPTunnels(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ipip {
		tunnels[t.SwIfIndex] = "ipip->" + t.Dst.String()
	}
	vx, err := v.VXLANTunnels(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range vx {
		tunnels[t.SwIfIndex] = "vxlan->" + t.Dst.String()
	}
	want := map[string]bool{}
	for _, p := range prefixes {
		want[p] = true
	}
	out := map[string][]string{}
	for _, is6 := range []bool{false, true} {
		routes, err := v.Routes(ctx, vpplink.Table{IPv6: is6})
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			if !want[r.Prefix.String()] {
				continue
			}
			var paths []string
			for _, p := range r.Paths {
				if name, ok := tunnels[p.SwIfIndex]; ok {
					paths = append(paths, name)
				} else {
					paths = append(paths, "via "+p.Gateway.String())
				}
			}
			sort.Strings(paths)
			out[r.Prefix.String()] = paths
		}
	}
	return out, nil
}
