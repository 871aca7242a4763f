package fakevpp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/ipip"
	"go.fd.io/govpp/binapi/tunnel_types"
	"go.fd.io/govpp/binapi/vxlan"
)

type ipipState struct {
	devInstance uint32
	instance    uint32
	src, dst    netip.Addr
	table       uint32
	flags       tunnel_types.TunnelEncapDecapFlags
	mode        tunnel_types.TunnelMode
	dscp        ip_types.IPDscp
}

type vxlanKey struct {
	src, dst netip.Addr
	vni      uint32
	vrf      uint32
	srcPort  uint16
}

type vxlanState struct {
	devInstance uint32
	instance    uint32
	key         vxlanKey
	src         netip.Addr
	dstPort     uint16
	decapNext   uint32
	isL3        bool
}

func (e *Engine) registerTunnels() {
	st := &e.st
	// ipip_add_tunnel (src/vnet/ipip/ipip.c).
	on(e, func(_ *Client, req *ipip.IpipAddTunnel) []api.Message {
		t := req.Tunnel
		fail := func(rv int32, idx uint32) []api.Message {
			return one(&ipip.IpipAddTunnelReply{Retval: rv, SwIfIndex: interface_types.InterfaceIndex(idx)})
		}
		src, dst := fromAddress(t.Src), fromAddress(t.Dst)
		if src.Is4() != dst.Is4() {
			return fail(rvInvalidProtocol, invalidIndex)
		}
		if src == dst {
			return fail(rvSameSrcDst, invalidIndex)
		}
		if _, ok := st.fibs[fibKey{t.TableID, src.Is6()}]; !ok {
			return fail(rvNoSuchFib, invalidIndex)
		}
		for _, i := range st.ifs {
			if i.ipip != nil && i.ipip.src == src && i.ipip.dst == dst && i.ipip.table == t.TableID && i.ipip.mode == t.Mode {
				return fail(rvIfAlreadyExists, i.idx)
			}
		}
		dev := st.tunnelPool.get()
		inst := t.Instance
		if inst == invalidIndex {
			inst = dev
		}
		if st.ipipInst[inst] {
			st.tunnelPool.put(dev)
			return fail(rvInstanceInUse, invalidIndex)
		}
		st.ipipInst[inst] = true
		i := st.newIface(kindIPIP, fmt.Sprintf("ipip%d", inst), "IPIP tunnel device")
		i.ipip = &ipipState{devInstance: dev, instance: inst, src: src, dst: dst, table: t.TableID, flags: t.Flags, mode: t.Mode, dscp: t.Dscp}
		e.ifEvent(i.idx, 0, false)
		return one(&ipip.IpipAddTunnelReply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &ipip.IpipAddTunnelReply{})

	// ipip_del_tunnel: missing or not ipip is NO_SUCH_ENTRY.
	on(e, func(_ *Client, req *ipip.IpipDelTunnel) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || i.ipip == nil {
			return one(&ipip.IpipDelTunnelReply{Retval: rvNoSuchEntry})
		}
		delete(st.ipipInst, i.ipip.instance)
		st.tunnelPool.put(i.ipip.devInstance)
		e.ifEvent(i.idx, 0, true)
		st.deleteIface(i)
		return one(&ipip.IpipDelTunnelReply{})
	}, &ipip.IpipDelTunnelReply{})

	on(e, func(_ *Client, req *ipip.IpipTunnelDump) []api.Message {
		var out []api.Message
		for _, i := range st.sortedIfaces() {
			if i.ipip == nil || (uint32(req.SwIfIndex) != invalidIndex && uint32(req.SwIfIndex) != i.idx) {
				continue
			}
			t := i.ipip
			out = append(out, &ipip.IpipTunnelDetails{Tunnel: ipip.IpipTunnel{Instance: t.instance, Src: toAddress(t.src), Dst: toAddress(t.dst),
				SwIfIndex: interface_types.InterfaceIndex(i.idx), TableID: t.table, Flags: t.flags, Mode: t.mode, Dscp: t.dscp}})
		}
		return out
	}, &ipip.IpipTunnelDetails{})

	// vxlan_add_del_tunnel_v3 (src/plugins/vxlan/vxlan.c).
	on(e, func(_ *Client, req *vxlan.VxlanAddDelTunnelV3) []api.Message {
		reply := func(rv int32, idx uint32) []api.Message {
			return one(&vxlan.VxlanAddDelTunnelV3Reply{Retval: rv, SwIfIndex: interface_types.InterfaceIndex(idx)})
		}
		src, dst := fromAddress(req.SrcAddress), fromAddress(req.DstAddress)
		if _, ok := st.fibs[fibKey{req.EncapVrfID, src.Is6()}]; !ok {
			return reply(rvNoSuchFib, invalidIndex)
		}
		if src.Is4() != dst.Is4() {
			return reply(rvInvalidValue, invalidIndex)
		}
		if src == dst {
			return reply(rvSameSrcDst, invalidIndex)
		}
		srcPort, dstPort := req.SrcPort, req.DstPort
		if srcPort == 0 {
			srcPort = 4789
		}
		if dstPort == 0 {
			dstPort = 4789
		}
		// VPP's tunnel key (vxlan.c): IPv6 and IPv4 multicast tunnels are
		// keyed without their source address.
		key := vxlanKey{src: src, dst: dst, vni: req.Vni, vrf: req.EncapVrfID, srcPort: srcPort}
		if dst.Is6() || dst.IsMulticast() {
			key.src = netip.Addr{}
		}
		var existing *iface
		for _, i := range st.ifs {
			if i.vxlan != nil && i.vxlan.key == key {
				existing = i
			}
		}
		if !req.IsAdd {
			if existing == nil {
				return reply(rvNoSuchEntry, invalidIndex)
			}
			idx := existing.idx
			delete(st.vxlanInst, existing.vxlan.instance)
			st.vxlanPool.put(existing.vxlan.devInstance)
			e.ifEvent(idx, 0, true)
			st.deleteIface(existing)
			return reply(0, idx)
		}
		if existing != nil {
			return reply(rvTunnelExist, invalidIndex)
		}
		// ~0 means l2-input (next 1); the vxlan-input node has two nexts.
		decapNext := req.DecapNextIndex
		if decapNext == invalidIndex {
			decapNext = 1
		}
		if decapNext > 1 {
			return reply(rvInvalidDecapNext, invalidIndex)
		}
		dev := st.vxlanPool.get()
		inst := req.Instance
		if inst == invalidIndex {
			inst = dev
		}
		if st.vxlanInst[inst] {
			st.vxlanPool.put(dev)
			return reply(rvInstanceInUse, invalidIndex)
		}
		st.vxlanInst[inst] = true
		i := st.newIface(kindVXLAN, fmt.Sprintf("vxlan_tunnel%d", inst), "VXLAN")
		if !req.IsL3 {
			i.mac = randomMAC(rand.Uint32())
		}
		i.adminUp, i.linkUp = true, true
		i.vxlan = &vxlanState{devInstance: dev, instance: inst, key: key, src: src, dstPort: dstPort, decapNext: decapNext, isL3: req.IsL3}
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_ADMIN_UP|interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return reply(0, i.idx)
	}, &vxlan.VxlanAddDelTunnelV3Reply{})

	on(e, func(_ *Client, req *vxlan.VxlanTunnelV2Dump) []api.Message {
		var out []api.Message
		for _, i := range st.sortedIfaces() {
			if i.vxlan == nil || (uint32(req.SwIfIndex) != invalidIndex && uint32(req.SwIfIndex) != i.idx) {
				continue
			}
			t := i.vxlan
			out = append(out, &vxlan.VxlanTunnelV2Details{SwIfIndex: interface_types.InterfaceIndex(i.idx), Instance: t.instance,
				SrcAddress: toAddress(t.src), DstAddress: toAddress(t.key.dst), SrcPort: t.key.srcPort, DstPort: t.dstPort,
				McastSwIfIndex: interface_types.InterfaceIndex(invalidIndex), EncapVrfID: t.key.vrf, DecapNextIndex: t.decapNext, Vni: t.key.vni})
		}
		return out
	}, &vxlan.VxlanTunnelV2Details{})
}
