package routing

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

// ExportRange is a prefix and the longest mask length exported under it.
type ExportRange struct {
	Prefix netip.Prefix
	MaxLen int
}

// Exports are what the node may advertise, as Calico's export filter:
// anything inside a pool that is exported (the node's blocks, another
// node's when reflecting), and what the node originates itself (service
// ranges, podCIDRs). Everything else learned, a ToR's routes say, is not
// passed on: a node is no transit. Sorted.
func Exports(pools map[netip.Prefix]inputs.IPPool, own map[netip.Prefix]Advertisement) []ExportRange {
	var out []ExportRange
	for cidr, p := range pools {
		if !p.DisableBGPExport {
			out = append(out, ExportRange{Prefix: cidr.Masked(), MaxLen: cidr.Addr().BitLen()})
		}
	}
	for p := range own {
		out = append(out, ExportRange{Prefix: p, MaxLen: p.Bits()})
	}
	slices.SortFunc(out, func(a, b ExportRange) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return a.MaxLen - b.MaxLen
	})
	return slices.Compact(out)
}

const exportPolicy = "calico-vpp-export"

// exportState is GoBGP's export policy: the ranges it accepts, and the
// peers that get next hops unchanged (keepOriginalNextHop).
type exportState struct {
	ranges      []ExportRange
	keepNextHop []netip.Addr
}

func (e exportState) equal(o exportState) bool {
	return slices.Equal(e.ranges, o.ranges) && slices.Equal(e.keepNextHop, o.keepNextHop)
}

// keepNextHopPeers are the peers of sp that keep next hops, sorted.
func keepNextHopPeers(sp Speaker) []netip.Addr {
	var out []netip.Addr
	for k, p := range sp.Peers {
		if p.KeepNextHop {
			out = append(out, k.Address)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// setExports makes GoBGP's global export policy accept exactly the
// ranges (default reject), next hops unchanged towards the keepNextHop
// peers, and re-evaluates what peers were sent when it changed.
func (b *BGP) setExports(ctx context.Context, want exportState) error {
	b.mu.Lock()
	unchanged := b.exportsSet && b.exports.equal(want)
	b.mu.Unlock()
	if unchanged {
		return nil
	}
	ranges := want.ranges
	req := &api.SetPoliciesRequest{}
	policy := &api.Policy{Name: exportPolicy}
	keepSet := &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: exportPolicy + "-keep-next-hop"}
	for _, a := range want.keepNextHop {
		keepSet.List = append(keepSet.List, netip.PrefixFrom(a, a.BitLen()).String())
	}
	if len(keepSet.List) > 0 {
		req.DefinedSets = append(req.DefinedSets, keepSet)
	}
	var keepStatements []*api.Statement
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"v4", false}, {"v6", true}} {
		set := &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: exportPolicy + "-" + fam.name}
		for _, r := range ranges {
			if r.Prefix.Addr().Is6() == fam.is6 {
				set.Prefixes = append(set.Prefixes, &api.Prefix{IpPrefix: r.Prefix.String(),
					MaskLengthMin: uint32(r.Prefix.Bits()), MaskLengthMax: uint32(r.MaxLen)})
			}
		}
		if len(set.Prefixes) == 0 {
			continue // GoBGP has no family for an empty set
		}
		req.DefinedSets = append(req.DefinedSets, set)
		if len(keepSet.List) > 0 {
			keepStatements = append(keepStatements, &api.Statement{
				Name: exportPolicy + "-keep-next-hop-" + fam.name,
				Conditions: &api.Conditions{PrefixSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: set.Name},
					NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: keepSet.Name}},
				Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT, Nexthop: &api.NexthopAction{Unchanged: true}},
			})
		}
		policy.Statements = append(policy.Statements, &api.Statement{
			Name:       exportPolicy + "-" + fam.name,
			Conditions: &api.Conditions{PrefixSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: set.Name}},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
		})
	}
	policy.Statements = append(keepStatements, policy.Statements...) // first match wins
	req.Policies = []*api.Policy{policy}
	// SetPolicies replaces sets and policies but keeps assignments: the
	// global export assignment is made apart.
	if err := b.s.SetPolicies(ctx, req); err != nil {
		return fmt.Errorf("set the export policy (%s): %w", describeRanges(ranges), err)
	}
	if err := b.s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT,
		Policies: []*api.Policy{{Name: exportPolicy}}, DefaultAction: api.RouteAction_REJECT,
	}}); err != nil {
		return fmt.Errorf("assign the export policy: %w", err)
	}
	b.mu.Lock()
	wasSet := b.exportsSet
	b.exports, b.exportsSet = exportState{ranges: slices.Clone(ranges), keepNextHop: slices.Clone(want.keepNextHop)}, true
	b.mu.Unlock()
	if wasSet {
		// Peers already sent routes under the old policy.
		if err := b.s.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_OUT}); err != nil {
			return fmt.Errorf("re-advertise under the new export policy: %w", err)
		}
	}
	return nil
}

func describeRanges(rs []ExportRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s le %d", r.Prefix, r.MaxLen)
	}
	return strings.Join(parts, ", ")
}
