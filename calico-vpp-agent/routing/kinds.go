package routing

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppkinds"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// VPPSource is the VPP connection and vpp-manager's view of it
// (vppconn.Holder).
type VPPSource interface {
	Get() (*vpplink.VPP, error)
	VPPStatus() vppstatus.Status
}

func getVPP(src VPPSource) (*vpplink.VPP, error) {
	v, err := src.Get()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err)
	}
	return v, nil
}

// Tunnel is a tunnel as VPP has it.
type Tunnel struct {
	SwIfIndex vpplink.SwIfIndex
}

// TunnelKind is the reconciler kind of tunnels to peer nodes. Tunnels
// carry no tag, so ownership is a persisted journal of the keys created.
type TunnelKind struct {
	vpp     VPPSource
	journal *journal.Journal
}

var (
	_ reconcile.Kind[TunnelKey, Tunnel] = (*TunnelKind)(nil)
	_ reconcile.Flusher                 = (*TunnelKind)(nil)
)

// NewTunnelKind returns the kind.
func NewTunnelKind(v VPPSource, j *journal.Journal) *TunnelKind {
	return &TunnelKind{vpp: v, journal: j}
}

// Name implements reconcile.Kind.
func (k *TunnelKind) Name() string { return "tunnels" }

// Phase implements reconcile.Kind.
func (k *TunnelKind) Phase() reconcile.Phase { return reconcile.PhaseInterfaces }

// Dump returns the journal's tunnels VPP has; the journal forgets the
// others (gone with a VPP restart).
func (k *TunnelKind) Dump(ctx context.Context) (map[TunnelKey]Tunnel, error) {
	v, err := getVPP(k.vpp)
	if err != nil {
		return nil, err
	}
	out := map[TunnelKey]Tunnel{}
	ipip, err := v.IPIPTunnels(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ipip {
		key := TunnelKey{Type: TunnelIPIP, Src: t.Src, Dst: t.Dst}
		if k.journal.Has(key.String()) {
			out[key] = Tunnel{SwIfIndex: t.SwIfIndex}
		}
	}
	vx, err := v.VXLANTunnels(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range vx {
		key := TunnelKey{Type: TunnelVXLAN, Src: t.Src, Dst: t.Dst, VNI: t.VNI}
		if k.journal.Has(key.String()) {
			out[key] = Tunnel{SwIfIndex: t.SwIfIndex}
		}
	}
	for _, s := range k.journal.Keys() {
		if key, err := ParseTunnelKey(s); err != nil || !has(out, key) {
			k.journal.Remove(s)
		}
	}
	return out, nil
}

func has[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// vxlanPeerMAC is the inner destination MAC towards a VXLAN peer: VPP's
// L3 VXLAN needs a neighbour on the tunnel, and a VPP peer decapsulates
// to IP whatever the MAC; stable per peer.
func vxlanPeerMAC(dst netip.Addr) net.HardwareAddr {
	sum := sha256.Sum256(dst.AsSlice())
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// Create makes the tunnel, borrowing the uplink's addresses (so it can
// carry IP), and brings it up.
func (k *TunnelKind) Create(ctx context.Context, key TunnelKey, _ Tunnel) (Tunnel, error) {
	v, err := getVPP(k.vpp)
	if err != nil {
		return Tunnel{}, err
	}
	st := k.vpp.VPPStatus()
	if len(st.Uplinks) == 0 {
		return Tunnel{}, fmt.Errorf("%w: vpp-manager reports no uplink", reconcile.ErrUnavailable)
	}
	if key.Type != TunnelIPIP && key.Type != TunnelVXLAN {
		return Tunnel{}, fmt.Errorf("tunnel %s: unknown type", key)
	}
	// Recorded before VPP has it: an agent dying right after the call still
	// owns the tunnel (a dump forgets keys VPP turns out not to have).
	k.journal.Add(key.String())
	if err := k.journal.Flush(); err != nil {
		return Tunnel{}, fmt.Errorf("tunnel %s: record it: %w", key, err)
	}
	var idx vpplink.SwIfIndex
	switch key.Type {
	case TunnelIPIP:
		idx, err = v.CreateIPIPTunnel(ctx, vpplink.IPIPTunnel{Src: key.Src, Dst: key.Dst})
		if vpplink.IsRetval(err, vpplink.RetvalIfAlreadyExists) && idx != vpplink.InvalidSwIfIndex {
			err = nil // ours from an earlier run: adopt it
		}
	case TunnelVXLAN:
		idx, err = v.CreateVXLANTunnel(ctx, vpplink.VXLANTunnel{Src: key.Src, Dst: key.Dst, VNI: key.VNI, SrcPort: VXLANPort, DstPort: VXLANPort})
		if err != nil {
			if existing, ok := findVXLAN(ctx, v, key); ok {
				idx, err = existing, nil // ours from an earlier run: adopt it
			}
		}
	}
	if err != nil {
		k.journal.Remove(key.String())
		return Tunnel{}, fmt.Errorf("create tunnel %s: %w", key, err)
	}
	undo := func(cause error) (Tunnel, error) {
		return Tunnel{}, errors.Join(cause, k.Delete(ctx, key, Tunnel{SwIfIndex: idx}))
	}
	if err := v.SetUnnumbered(ctx, idx, vpplink.SwIfIndex(st.Uplinks[0].SwIfIndex), true); err != nil {
		return undo(fmt.Errorf("tunnel %s: borrow the uplink's addresses: %w", key, err))
	}
	if key.Dst.Is6() {
		if err := v.EnableIP6(ctx, idx, true); err != nil && !vpplink.IsRetval(err, vpplink.RetvalValueExist) {
			return undo(fmt.Errorf("tunnel %s: enable IPv6: %w", key, err))
		}
	}
	if key.Type == TunnelVXLAN {
		if err := v.AddNeighbor(ctx, vpplink.Neighbor{SwIfIndex: idx, IP: key.Dst, MAC: vxlanPeerMAC(key.Dst), NoFIB: true}); err != nil {
			return undo(fmt.Errorf("tunnel %s: peer neighbour: %w", key, err))
		}
	}
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		return undo(fmt.Errorf("tunnel %s: set up: %w", key, err))
	}
	return Tunnel{SwIfIndex: idx}, nil
}

// findVXLAN returns VPP's tunnel of key, if it has one.
func findVXLAN(ctx context.Context, v *vpplink.VPP, key TunnelKey) (vpplink.SwIfIndex, bool) {
	tunnels, err := v.VXLANTunnels(ctx)
	if err != nil {
		return vpplink.InvalidSwIfIndex, false
	}
	for _, t := range tunnels {
		if t.Src == key.Src && t.Dst == key.Dst && t.VNI == key.VNI {
			return t.SwIfIndex, true
		}
	}
	return vpplink.InvalidSwIfIndex, false
}

// Update never runs: a tunnel's key is all of it.
func (k *TunnelKind) Update(ctx context.Context, key TunnelKey, desired, _ Tunnel) (Tunnel, error) {
	return k.Create(ctx, key, desired)
}

// Delete removes the tunnel.
func (k *TunnelKind) Delete(ctx context.Context, key TunnelKey, t Tunnel) error {
	v, err := getVPP(k.vpp)
	if err != nil {
		return err
	}
	switch key.Type {
	case TunnelIPIP:
		err = v.DeleteIPIPTunnel(ctx, t.SwIfIndex)
		if vpplink.IsRetval(err, vpplink.RetvalInvalidSwIfIndex) || vpplink.IsRetval(err, vpplink.RetvalNoSuchEntry) {
			err = nil
		}
	case TunnelVXLAN:
		err = v.DeleteVXLANTunnel(ctx, vpplink.VXLANTunnel{Src: key.Src, Dst: key.Dst, VNI: key.VNI, SrcPort: VXLANPort, DstPort: VXLANPort})
		if vpplink.IsRetval(err, vpplink.RetvalNoSuchEntry) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("delete tunnel %s: %w", key, err)
	}
	k.journal.Remove(key.String())
	return nil
}

// Equal implements reconcile.Kind: a tunnel that exists is the tunnel.
func (k *TunnelKind) Equal(Tunnel, Tunnel) bool { return true }

// Flush persists the journal.
func (k *TunnelKind) Flush(context.Context) error { return k.journal.Flush() }

// BGPRoute is a learned route: desired as a RouteSpec (tunnels by key),
// dumped as VPP has it.
type BGPRoute struct {
	Spec RouteSpec
	VPP  vpplink.Route
}

// RouteKind is the reconciler kind of learned routes: the route kind
// (journal-owned) with tunnel keys resolved to the tunnels' interfaces.
type RouteKind struct {
	routes  *vppkinds.Routes
	tunnels *reconcile.Table[TunnelKey, Tunnel]
}

var (
	_ reconcile.Kind[vppkinds.RouteKey, BGPRoute] = (*RouteKind)(nil)
	_ reconcile.Flusher                           = (*RouteKind)(nil)
)

// NewRouteKind returns the kind; tunnels is the tunnel table, whose
// interfaces the routes go through.
func NewRouteKind(v VPPSource, j *journal.Journal, tunnels *reconcile.Table[TunnelKey, Tunnel]) *RouteKind {
	return &RouteKind{routes: vppkinds.NewRoutes(v, j), tunnels: tunnels}
}

// Name implements reconcile.Kind.
func (k *RouteKind) Name() string { return "bgp-routes" }

// Phase implements reconcile.Kind.
func (k *RouteKind) Phase() reconcile.Phase { return reconcile.PhaseRoutes }

// resolve turns a spec into VPP's route; it fails while a tunnel it needs
// does not exist yet.
func (k *RouteKind) resolve(key vppkinds.RouteKey, s RouteSpec) (vpplink.Route, error) {
	r := vpplink.Route{Table: key.Table, Prefix: key.Prefix}
	for _, p := range s.Paths {
		path := vpplink.RoutePath{Gateway: p.Gateway, SwIfIndex: vpplink.InvalidSwIfIndex}
		if !p.Tunnel.IsZero() {
			t, ok := k.tunnels.Actual(p.Tunnel)
			if !ok {
				return r, fmt.Errorf("route %s: tunnel %s not created yet", key.Prefix, p.Tunnel)
			}
			path.SwIfIndex = t.SwIfIndex
			if p.Tunnel.Type == TunnelIPIP {
				path.Gateway = netip.Addr{} // point to point
			}
		}
		r.Paths = append(r.Paths, path)
	}
	return r, nil
}

// Dump implements reconcile.Kind.
func (k *RouteKind) Dump(ctx context.Context) (map[vppkinds.RouteKey]BGPRoute, error) {
	rs, err := k.routes.Dump(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[vppkinds.RouteKey]BGPRoute, len(rs))
	for key, r := range rs {
		out[key] = BGPRoute{VPP: r}
	}
	return out, nil
}

// Create implements reconcile.Kind.
func (k *RouteKind) Create(ctx context.Context, key vppkinds.RouteKey, want BGPRoute) (BGPRoute, error) {
	r, err := k.resolve(key, want.Spec)
	if err != nil {
		return BGPRoute{}, err
	}
	got, err := k.routes.Create(ctx, key, r)
	return BGPRoute{Spec: want.Spec, VPP: got}, err
}

// Update implements reconcile.Kind.
func (k *RouteKind) Update(ctx context.Context, key vppkinds.RouteKey, want, have BGPRoute) (BGPRoute, error) {
	r, err := k.resolve(key, want.Spec)
	if err != nil {
		return have, err
	}
	got, err := k.routes.Update(ctx, key, r, have.VPP)
	return BGPRoute{Spec: want.Spec, VPP: got}, err
}

// Delete implements reconcile.Kind.
func (k *RouteKind) Delete(ctx context.Context, key vppkinds.RouteKey, have BGPRoute) error {
	return k.routes.Delete(ctx, key, have.VPP)
}

// Equal compares with the tunnels' current interfaces: a tunnel
// re-created elsewhere makes its routes move.
func (k *RouteKind) Equal(desired, actual BGPRoute) bool {
	r, err := k.resolve(vppkinds.RouteKey{Table: actual.VPP.Table, Prefix: actual.VPP.Prefix}, desired.Spec)
	return err == nil && k.routes.Equal(r, actual.VPP)
}

// Flush persists the journal.
func (k *RouteKind) Flush(ctx context.Context) error { return k.routes.Flush(ctx) }

var _ reconcile.BatchKind[vppkinds.RouteKey, BGPRoute] = (*RouteKind)(nil)

// CreateBatch adds routes pipelined; routes whose tunnel is missing fail
// alone.
func (k *RouteKind) CreateBatch(ctx context.Context, keys []vppkinds.RouteKey, want []BGPRoute) ([]BGPRoute, []error) {
	out := make([]BGPRoute, len(keys))
	errs := make([]error, len(keys))
	var okKeys []vppkinds.RouteKey
	var okRoutes []vpplink.Route
	var okIdx []int
	for i, key := range keys {
		r, err := k.resolve(key, want[i].Spec)
		if err != nil {
			errs[i] = err
			continue
		}
		okKeys, okRoutes, okIdx = append(okKeys, key), append(okRoutes, r), append(okIdx, i)
	}
	got, gotErrs := k.routes.CreateBatch(ctx, okKeys, okRoutes)
	for j, i := range okIdx {
		out[i], errs[i] = BGPRoute{Spec: want[i].Spec, VPP: got[j]}, gotErrs[j]
	}
	return out, errs
}

// DeleteBatch deletes routes pipelined.
func (k *RouteKind) DeleteBatch(ctx context.Context, keys []vppkinds.RouteKey, have []BGPRoute) []error {
	routes := make([]vpplink.Route, len(have))
	for i, h := range have {
		routes[i] = h.VPP
	}
	return k.routes.DeleteBatch(ctx, keys, routes)
}
