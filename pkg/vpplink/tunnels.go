package vpplink

import (
	"context"
	"fmt"
	"net/netip"

	"go.fd.io/govpp/binapi/ipip"
	"go.fd.io/govpp/binapi/tunnel_types"
	"go.fd.io/govpp/binapi/vxlan"
)

// IPIPTunnel is a point-to-point IP-in-IP tunnel.
type IPIPTunnel struct {
	SwIfIndex SwIfIndex // set by dumps
	Instance  *uint32   // ipipN; nil lets VPP pick
	Src, Dst  netip.Addr
	Table     uint32 // underlay table of the outer packets
}

func (t IPIPTunnel) String() string { return fmt.Sprintf("%s->%s", t.Src, t.Dst) }

// CreateIPIPTunnel creates the tunnel interface (down, unnumbered-less).
func (v *VPP) CreateIPIPTunnel(ctx context.Context, t IPIPTunnel) (SwIfIndex, error) {
	reply, err := ipip.NewServiceClient(v.conn).IpipAddTunnel(ctx, &ipip.IpipAddTunnel{Tunnel: ipip.IpipTunnel{
		Instance: instance(t.Instance), Src: toAddress(t.Src), Dst: toAddress(t.Dst), TableID: t.Table,
		Flags: tunnel_types.TUNNEL_API_ENCAP_DECAP_FLAG_NONE, Mode: tunnel_types.TUNNEL_API_MODE_P2P,
	}})
	if err != nil {
		// On IF_ALREADY_EXISTS VPP names the existing tunnel.
		err = wrap("create ipip tunnel", t.String(), err)
		if reply != nil && IsRetval(err, RetvalIfAlreadyExists) {
			return SwIfIndex(reply.SwIfIndex), err
		}
		return InvalidSwIfIndex, err
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteIPIPTunnel deletes an IPIP tunnel.
func (v *VPP) DeleteIPIPTunnel(ctx context.Context, idx SwIfIndex) error {
	_, err := ipip.NewServiceClient(v.conn).IpipDelTunnel(ctx, &ipip.IpipDelTunnel{SwIfIndex: idx.api()})
	return wrap("delete ipip tunnel", fmt.Sprint(idx), err)
}

// IPIPTunnels lists every IPIP tunnel.
func (v *VPP) IPIPTunnels(ctx context.Context) ([]IPIPTunnel, error) {
	stream, err := ipip.NewServiceClient(v.conn).IpipTunnelDump(ctx, &ipip.IpipTunnelDump{SwIfIndex: InvalidSwIfIndex.api()})
	if err != nil {
		return nil, wrap("dump ipip tunnels", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump ipip tunnels", "", err)
	}
	out := make([]IPIPTunnel, 0, len(details))
	for _, d := range details {
		out = append(out, IPIPTunnel{SwIfIndex: SwIfIndex(d.Tunnel.SwIfIndex), Instance: &d.Tunnel.Instance,
			Src: fromAddress(d.Tunnel.Src), Dst: fromAddress(d.Tunnel.Dst), Table: d.Tunnel.TableID})
	}
	return out, nil
}

// VXLANTunnel is an L3 VXLAN tunnel (Calico uses VNI 4096, port 4789).
type VXLANTunnel struct {
	SwIfIndex        SwIfIndex
	Instance         *uint32 // vxlan_tunnelN; nil lets VPP pick
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // 0: 4789
	VNI              uint32
	EncapTable       uint32
	DecapNextIndex   uint32 // 0 is sent as ~0 (VPP's default); a literal 0 would drop decapsulated packets
}

func (t VXLANTunnel) String() string { return fmt.Sprintf("%s->%s vni %d", t.Src, t.Dst, t.VNI) }

func (t VXLANTunnel) request(add bool) *vxlan.VxlanAddDelTunnelV3 {
	decapNext := t.DecapNextIndex
	if decapNext == 0 {
		decapNext = InvalidID
	}
	return &vxlan.VxlanAddDelTunnelV3{
		IsAdd: add, Instance: instance(t.Instance), SrcAddress: toAddress(t.Src), DstAddress: toAddress(t.Dst),
		SrcPort: t.SrcPort, DstPort: t.DstPort, McastSwIfIndex: InvalidSwIfIndex.api(),
		EncapVrfID: t.EncapTable, DecapNextIndex: decapNext, Vni: t.VNI, IsL3: true,
	}
}

// CreateVXLANTunnel creates the tunnel interface.
func (v *VPP) CreateVXLANTunnel(ctx context.Context, t VXLANTunnel) (SwIfIndex, error) {
	reply, err := vxlan.NewServiceClient(v.conn).VxlanAddDelTunnelV3(ctx, t.request(true))
	if err != nil {
		return InvalidSwIfIndex, wrap("create vxlan tunnel", t.String(), err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteVXLANTunnel deletes the tunnel with t's endpoints and VNI.
func (v *VPP) DeleteVXLANTunnel(ctx context.Context, t VXLANTunnel) error {
	_, err := vxlan.NewServiceClient(v.conn).VxlanAddDelTunnelV3(ctx, t.request(false))
	return wrap("delete vxlan tunnel", t.String(), err)
}

// VXLANTunnels lists every VXLAN tunnel.
func (v *VPP) VXLANTunnels(ctx context.Context) ([]VXLANTunnel, error) {
	stream, err := vxlan.NewServiceClient(v.conn).VxlanTunnelV2Dump(ctx, &vxlan.VxlanTunnelV2Dump{SwIfIndex: InvalidSwIfIndex.api()})
	if err != nil {
		return nil, wrap("dump vxlan tunnels", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump vxlan tunnels", "", err)
	}
	out := make([]VXLANTunnel, 0, len(details))
	for _, d := range details {
		out = append(out, VXLANTunnel{SwIfIndex: SwIfIndex(d.SwIfIndex), Instance: &d.Instance,
			Src: fromAddress(d.SrcAddress), Dst: fromAddress(d.DstAddress), SrcPort: d.SrcPort, DstPort: d.DstPort,
			VNI: d.Vni, EncapTable: d.EncapVrfID, DecapNextIndex: d.DecapNextIndex})
	}
	return out, nil
}

// instance encodes an optional instance number: VPP allocates on ~0 (an
// explicit 0 asks for instance 0).
func instance(i *uint32) uint32 {
	if i == nil {
		return InvalidID
	}
	return *i
}
