package fakevpp

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/ethernet_types"
	"go.fd.io/govpp/binapi/feature"
	"go.fd.io/govpp/binapi/gso"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip_types"
)

// VPP error codes used by the handlers (src/vnet/error.h).
const (
	rvUnspecified          int32 = -1
	rvInvalidSwIfIndex     int32 = -2
	rvNoSuchFib            int32 = -3
	rvNoSuchEntry          int32 = -6
	rvInvalidValue         int32 = -7
	rvInvalidValue2        int32 = -8
	rvUnimplemented        int32 = -9
	rvInvalidSwIfIndex2    int32 = -10
	rvSyscallError1        int32 = -11
	rvSyscallError2        int32 = -12
	rvSyscallError3        int32 = -13
	rvInvalidRegistration  int32 = -31
	rvNoPathsInRoute       int32 = -52
	rvNoMatchingInterface  int32 = -54
	rvInvalidDstAddress    int32 = -58
	rvAddrLengthMismatch   int32 = -59
	rvAddrNotFoundForIf    int32 = -60
	rvAddrNotDeletable     int32 = -61
	rvInvalidDecapNext     int32 = -76
	rvIP6NotEnabled        int32 = -62
	rvInvalidInterface     int32 = -71
	rvUnexpectedIntfState  int32 = -74
	rvTunnelExist          int32 = -75
	rvIfAlreadyExists      int32 = -79
	rvValueExist           int32 = -81
	rvSameSrcDst           int32 = -82
	rvAddressInUse         int32 = -105
	rvAddrFoundForIf       int32 = -114
	rvUnsupported          int32 = -126
	rvDuplicateIfAddress   int32 = -127
	rvACLInUseInbound      int32 = -142
	rvACLInUseOutbound     int32 = -143
	rvInitFailed           int32 = -144
	rvNetlinkError         int32 = -145
	rvInstanceInUse        int32 = -147
	rvInvalidProtocol      int32 = -153
	rvInvalidPrefixLength  int32 = -171
	rvInvalidSrcAddress    int32 = -57
	rvFeatureDisabled      int32 = -30
	rvInvalidAddressFamily int32 = -97
)

func ifFlags(i *iface) interface_types.IfStatusFlags {
	var f interface_types.IfStatusFlags
	if i.adminUp {
		f |= interface_types.IF_STATUS_API_FLAG_ADMIN_UP
	}
	if i.linkUp {
		f |= interface_types.IF_STATUS_API_FLAG_LINK_UP
	}
	return f
}

func newIfEvent(pid uint32, ev pendingEvent) *interfaces.SwInterfaceEvent {
	return &interfaces.SwInterfaceEvent{PID: pid, SwIfIndex: interface_types.InterfaceIndex(ev.swIfIndex),
		Flags: interface_types.IfStatusFlags(ev.flags), Deleted: ev.deleted}
}

func macOf(m net.HardwareAddr) ethernet_types.MacAddress {
	var out ethernet_types.MacAddress
	copy(out[:], m)
	return out
}

func interfaceDetails(i *iface) *interfaces.SwInterfaceDetails {
	d := &interfaces.SwInterfaceDetails{
		SwIfIndex: interface_types.InterfaceIndex(i.idx), SupSwIfIndex: i.idx,
		Flags: ifFlags(i), Type: interface_types.IF_API_TYPE_HARDWARE,
		LinkMtu: i.linkMTU, Mtu: i.mtu[:], InterfaceName: i.name, InterfaceDevType: i.devType, Tag: i.tag,
		LinkDuplex: interface_types.LINK_DUPLEX_API_UNKNOWN,
	}
	if i.mac != nil {
		d.L2Address = macOf(i.mac)
	}
	return d
}

func (e *Engine) registerInterfaces() {
	st := &e.st
	// sw_interface_dump (src/vnet/interface_api.c): index 0 and ~0 mean all;
	// a name filter is a case-insensitive substring match; pool order.
	on(e, func(_ *Client, req *interfaces.SwInterfaceDump) []api.Message {
		var out []api.Message
		idx := uint32(req.SwIfIndex)
		for _, i := range st.sortedIfaces() {
			if req.NameFilterValid {
				if !strings.Contains(strings.ToLower(i.name), strings.ToLower(req.NameFilter)) {
					continue
				}
			} else if idx != 0 && idx != invalidIndex && i.idx != idx {
				continue
			}
			out = append(out, interfaceDetails(i))
		}
		return out
	}, &interfaces.SwInterfaceDetails{})

	// create_loopback (src/vnet/ethernet/interface.c): the lowest free
	// instance, named loopN; MAC de:ad:00:00:00:N unless given; link
	// follows admin state.
	on(e, func(_ *Client, req *interfaces.CreateLoopback) []api.Message {
		inst := st.loopIDs.lowestClear()
		st.loopIDs[inst] = true
		i := st.newIface(kindLoopback, fmt.Sprintf("loop%d", inst), "Loopback")
		i.loopInstance = inst
		if req.MacAddress == ([6]byte{}) {
			i.mac = net.HardwareAddr{0xde, 0xad, 0, 0, 0, byte(inst)}
		} else {
			i.mac = net.HardwareAddr(append([]byte(nil), req.MacAddress[:]...))
		}
		e.ifEvent(i.idx, 0, false)
		return one(&interfaces.CreateLoopbackReply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &interfaces.CreateLoopbackReply{})
	on(e, func(_ *Client, req *interfaces.DeleteLoopback) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || i.kind != kindLoopback {
			return one(&interfaces.DeleteLoopbackReply{Retval: rvInvalidSwIfIndex})
		}
		delete(st.loopIDs, i.loopInstance)
		e.ifEvent(i.idx, 0, true)
		st.deleteIface(i)
		return one(&interfaces.DeleteLoopbackReply{})
	}, &interfaces.DeleteLoopbackReply{})

	// sw_interface_set_flags: only ADMIN_UP is honoured. Tunnels' link
	// follows their admin state.
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetFlags) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetFlagsReply{Retval: rvInvalidSwIfIndex})
		}
		up := req.Flags&interface_types.IF_STATUS_API_FLAG_ADMIN_UP != 0
		if up != i.adminUp {
			i.adminUp = up
			var flags uint32
			if up {
				flags = uint32(interface_types.IF_STATUS_API_FLAG_ADMIN_UP)
			}
			if i.kind == kindIPIP || i.kind == kindLoopback {
				i.linkUp = up
				if up {
					flags |= uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP)
				}
			}
			e.ifEvent(i.idx, flags, false)
		}
		return one(&interfaces.SwInterfaceSetFlagsReply{})
	}, &interfaces.SwInterfaceSetFlagsReply{})

	// sw_interface_set_mtu stores the four values as given, zeros included.
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetMtu) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetMtuReply{Retval: rvInvalidSwIfIndex})
		}
		for k := 0; k < 4 && k < len(req.Mtu); k++ {
			i.mtu[k] = req.Mtu[k]
		}
		return one(&interfaces.SwInterfaceSetMtuReply{})
	}, &interfaces.SwInterfaceSetMtuReply{})

	// hw_interface_set_mtu: -2 for a bad index, -30 for non-ethernet
	// interfaces; sets the max frame size and the L3 MTU follows it.
	on(e, func(_ *Client, req *interfaces.HwInterfaceSetMtu) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.HwInterfaceSetMtuReply{Retval: rvInvalidSwIfIndex})
		}
		if i.mac == nil {
			return one(&interfaces.HwInterfaceSetMtuReply{Retval: rvFeatureDisabled})
		}
		i.linkMTU = req.Mtu
		i.mtu[0] = uint32(req.Mtu)
		return one(&interfaces.HwInterfaceSetMtuReply{})
	}, &interfaces.HwInterfaceSetMtuReply{})

	// sw_interface_set_mac_address: interfaces without an L2 address
	// (tun, ipip) answer UNIMPLEMENTED.
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetMacAddress) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetMacAddressReply{Retval: rvInvalidSwIfIndex})
		}
		if i.mac == nil {
			return one(&interfaces.SwInterfaceSetMacAddressReply{Retval: rvUnimplemented})
		}
		i.mac = net.HardwareAddr(append([]byte(nil), req.MacAddress[:]...))
		return one(&interfaces.SwInterfaceSetMacAddressReply{})
	}, &interfaces.SwInterfaceSetMacAddressReply{})

	on(e, func(_ *Client, req *interfaces.SwInterfaceAddDelAddress) []api.Message {
		return one(&interfaces.SwInterfaceAddDelAddressReply{Retval: st.addDelAddress(req)})
	}, &interfaces.SwInterfaceAddDelAddressReply{})

	// sw_interface_address_replace_begin/end (src/vnet/ip/ip_interface.c):
	// begin marks every address stale, re-adding unmarks it, end deletes
	// the stale ones.
	on(e, func(_ *Client, _ *interfaces.SwInterfaceAddressReplaceBegin) []api.Message {
		st.replaceStale = map[ifAddrKey]bool{}
		for _, i := range st.ifs {
			for f := range i.addrs {
				for _, a := range i.addrs[f] {
					st.replaceStale[ifAddrKey{i.idx, a}] = true
				}
			}
		}
		return one(&interfaces.SwInterfaceAddressReplaceBeginReply{})
	}, &interfaces.SwInterfaceAddressReplaceBeginReply{})
	on(e, func(_ *Client, _ *interfaces.SwInterfaceAddressReplaceEnd) []api.Message {
		for k, stale := range st.replaceStale {
			if stale {
				if i, ok := st.iface(k.swIfIndex); ok {
					i.removeAddr(k.prefix)
				}
			}
		}
		st.replaceStale = nil
		return one(&interfaces.SwInterfaceAddressReplaceEndReply{})
	}, &interfaces.SwInterfaceAddressReplaceEndReply{})

	// sw_interface_set_rx_mode: -2 bad index; -7 is for non-hardware
	// (sub-)interfaces, which the fake has none of. Interfaces without rx
	// queues (local0, tunnels) accept it and change nothing.
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetRxMode) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetRxModeReply{Retval: rvInvalidSwIfIndex})
		}
		i.rxMode = uint32(req.Mode)
		return one(&interfaces.SwInterfaceSetRxModeReply{})
	}, &interfaces.SwInterfaceSetRxModeReply{})

	// sw_interface_tag_add_del: at most 63 bytes (longer is truncated), an
	// empty tag on add is -7, delete always succeeds.
	on(e, func(_ *Client, req *interfaces.SwInterfaceTagAddDel) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceTagAddDelReply{Retval: rvInvalidSwIfIndex})
		}
		if !req.IsAdd {
			i.tag = ""
			return one(&interfaces.SwInterfaceTagAddDelReply{})
		}
		if req.Tag == "" {
			return one(&interfaces.SwInterfaceTagAddDelReply{Retval: rvInvalidValue})
		}
		tag := req.Tag
		if len(tag) > 63 {
			tag = tag[:63]
		}
		i.tag = tag
		return one(&interfaces.SwInterfaceTagAddDelReply{})
	}, &interfaces.SwInterfaceTagAddDelReply{})

	// sw_interface_set_table (ip_table_bind): the table must exist (-3) and
	// the interface may have no address of that family (-114).
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetTable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetTableReply{Retval: rvInvalidSwIfIndex})
		}
		f := family(req.IsIPv6)
		if _, ok := st.fibs[fibKey{req.VrfID, req.IsIPv6}]; !ok {
			return one(&interfaces.SwInterfaceSetTableReply{Retval: rvNoSuchFib})
		}
		// Even re-binding the current table is refused while addresses of the
		// family exist (own, or the donor's for an unnumbered interface).
		addrs := i.addrs[f]
		if donor, ok := st.ifs[i.unnumberedOf]; ok && i.unnumberedOf != invalidIndex {
			addrs = donor.addrs[f]
		}
		if len(addrs) > 0 {
			return one(&interfaces.SwInterfaceSetTableReply{Retval: rvAddrFoundForIf})
		}
		i.table[f] = req.VrfID
		return one(&interfaces.SwInterfaceSetTableReply{})
	}, &interfaces.SwInterfaceSetTableReply{})

	on(e, func(_ *Client, req *interfaces.SwInterfaceGetTable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceGetTableReply{Retval: rvInvalidSwIfIndex, VrfID: invalidIndex})
		}
		return one(&interfaces.SwInterfaceGetTableReply{VrfID: i.table[family(req.IsIPv6)]})
	}, &interfaces.SwInterfaceGetTableReply{})

	// sw_interface_set_unnumbered: sw_if_index is the donor,
	// unnumbered_sw_if_index the borrower; both must share a VRF.
	on(e, func(_ *Client, req *interfaces.SwInterfaceSetUnnumbered) []api.Message {
		borrower, ok := st.iface(uint32(req.UnnumberedSwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetUnnumberedReply{Retval: rvInvalidSwIfIndex})
		}
		if !req.IsAdd {
			borrower.unnumberedOf = invalidIndex
			return one(&interfaces.SwInterfaceSetUnnumberedReply{})
		}
		donor, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&interfaces.SwInterfaceSetUnnumberedReply{Retval: rvInvalidSwIfIndex2})
		}
		if donor.table != borrower.table {
			return one(&interfaces.SwInterfaceSetUnnumberedReply{Retval: rvUnexpectedIntfState})
		}
		borrower.unnumberedOf = donor.idx
		return one(&interfaces.SwInterfaceSetUnnumberedReply{})
	}, &interfaces.SwInterfaceSetUnnumberedReply{})

	// want_interface_events (pub_sub_handler): registering twice, or
	// unregistering when not registered, is INVALID_REGISTRATION.
	on(e, func(c *Client, req *interfaces.WantInterfaceEvents) []api.Message {
		want := req.EnableDisable != 0
		if want == c.wantEvents {
			return one(&interfaces.WantInterfaceEventsReply{Retval: rvInvalidRegistration})
		}
		c.wantEvents, c.eventsPID = want, req.PID
		return one(&interfaces.WantInterfaceEventsReply{})
	}, &interfaces.WantInterfaceEventsReply{}, &interfaces.SwInterfaceEvent{})

	// ip_address_dump (src/vnet/ip/ip_api.c): insertion order; nothing for
	// an unknown or unnumbered interface.
	on(e, func(_ *Client, req *ip.IPAddressDump) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || i.unnumberedOf != invalidIndex {
			return nil
		}
		var out []api.Message
		for _, a := range i.addrs[family(req.IsIPv6)] {
			out = append(out, &ip.IPAddressDetails{SwIfIndex: req.SwIfIndex, Prefix: ip_types.AddressWithPrefix(toPrefix(a))})
		}
		return out
	}, &ip.IPAddressDetails{})

	// sw_interface_ip6_enable_disable (src/vnet/ip/ip6_link.c): enabling
	// twice is VALUE_EXIST (and still takes a lock); disabling a disabled
	// interface is IP6_NOT_ENABLED.
	on(e, func(_ *Client, req *ip.SwInterfaceIP6EnableDisable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&ip.SwInterfaceIP6EnableDisableReply{Retval: rvInvalidSwIfIndex})
		}
		if req.Enable {
			i.ip6Locks++
			if i.ip6Locks > 1 {
				return one(&ip.SwInterfaceIP6EnableDisableReply{Retval: rvValueExist})
			}
			return one(&ip.SwInterfaceIP6EnableDisableReply{})
		}
		if i.ip6Locks == 0 {
			return one(&ip.SwInterfaceIP6EnableDisableReply{Retval: rvIP6NotEnabled})
		}
		i.ip6Locks--
		return one(&ip.SwInterfaceIP6EnableDisableReply{})
	}, &ip.SwInterfaceIP6EnableDisableReply{})

	// feature_gso_enable_disable: idempotent toggle.
	on(e, func(_ *Client, req *gso.FeatureGsoEnableDisable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&gso.FeatureGsoEnableDisableReply{Retval: rvInvalidSwIfIndex})
		}
		i.gso = req.EnableDisable
		return one(&gso.FeatureGsoEnableDisableReply{})
	}, &gso.FeatureGsoEnableDisableReply{})

	// feature_enable_disable (src/vnet/feature/feature_api.c): an unknown
	// arc or feature is INVALID_VALUE.
	on(e, func(_ *Client, req *feature.FeatureEnableDisable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&feature.FeatureEnableDisableReply{Retval: rvInvalidSwIfIndex})
		}
		if nodes, ok := knownFeatures()[req.ArcName]; !ok || !nodes[req.FeatureName] {
			return one(&feature.FeatureEnableDisableReply{Retval: rvInvalidValue})
		}
		k := req.ArcName + "/" + req.FeatureName
		if req.Enable {
			i.features[k] = true
		} else {
			delete(i.features, k)
		}
		return one(&feature.FeatureEnableDisableReply{})
	}, &feature.FeatureEnableDisableReply{})
}

// knownFeatures lists the feature arcs and nodes the fake accepts.
func knownFeatures() map[string]map[string]bool {
	return map[string]map[string]bool{
		"ip4-unicast": {"cnat-input-ip4": true, "cnat-snat-ip4": true, "acl-plugin-in-ip4-fa": true},
		"ip6-unicast": {"cnat-input-ip6": true, "cnat-snat-ip6": true, "acl-plugin-in-ip6-fa": true},
		"ip4-output":  {"cnat-output-ip4": true, "acl-plugin-out-ip4-fa": true},
		"ip6-output":  {"cnat-output-ip6": true, "acl-plugin-out-ip6-fa": true},
	}
}

type ifAddrKey struct {
	swIfIndex uint32
	prefix    netip.Prefix
}

func (i *iface) removeAddr(p netip.Prefix) bool {
	f := family(p.Addr().Is6())
	for k, a := range i.addrs[f] {
		if a.Addr() == p.Addr() {
			i.addrs[f] = append(i.addrs[f][:k:k], i.addrs[f][k+1:]...)
			if f == 1 && i.ip6Locks > 0 {
				i.ip6Locks--
			}
			return true
		}
	}
	return false
}

// addDelAddress follows ip4_add_del_interface_address_internal and
// ip6_add_del_interface_address.
func (st *state) addDelAddress(req *interfaces.SwInterfaceAddDelAddress) int32 {
	i, ok := st.iface(uint32(req.SwIfIndex))
	if !ok {
		return rvInvalidSwIfIndex
	}
	if i.idx == 0 {
		return rvUnsupported
	}
	if req.DelAll {
		// Only the per-address IPv6 locks go; an explicit ip6 enable stays.
		i.ip6Locks -= len(i.addrs[1])
		i.addrs = [2][]netip.Prefix{}
		return 0
	}
	p := fromPrefix(ip_types.Prefix(req.Prefix))
	is6 := p.Addr().Is6()
	f := family(is6)
	if p.Bits() <= 0 || p.Bits() > p.Addr().BitLen() {
		return rvAddrLengthMismatch
	}
	// IPv6 link-local addresses (src/vnet/ip/ip6_forward.c): /128 only;
	// they replace the link-local address and are not listed.
	if is6 && p.Addr().IsLinkLocalUnicast() {
		if p.Bits() != 128 {
			return rvAddrLengthMismatch
		}
		if !req.IsAdd {
			if i.linkLocal == p.Addr() {
				return rvAddrNotDeletable
			}
			return rvAddrNotFoundForIf
		}
		i.linkLocal = p.Addr()
		return 0
	}
	if !req.IsAdd {
		for _, a := range i.addrs[f] {
			if a.Addr() == p.Addr() {
				i.removeAddr(p)
				return 0
			}
		}
		return rvAddrNotFoundForIf
	}
	// Between replace_begin and _end, re-adding a stale address unmarks it
	// (keeping its length); a stale one on another interface moves here.
	for _, other := range st.ifs {
		for _, a := range other.addrs[f] {
			if a.Addr() != p.Addr() || !st.replaceStale[ifAddrKey{other.idx, a}] {
				continue
			}
			delete(st.replaceStale, ifAddrKey{other.idx, a})
			if other.idx == i.idx {
				return 0
			}
			other.removeAddr(a)
		}
	}
	dup := rvAddressInUse
	if is6 {
		dup = rvDuplicateIfAddress
	}
	// Overlap with any (non-stale) address in the same VRF, except several
	// addresses of one subnet (same length) on the same interface.
	for _, other := range st.ifs {
		if other.table[f] != i.table[f] {
			continue
		}
		for _, a := range other.addrs[f] {
			if st.replaceStale[ifAddrKey{other.idx, a}] {
				continue
			}
			if a.Addr() == p.Addr() {
				return dup
			}
			if a.Overlaps(p) && (other.idx != i.idx || a.Bits() != p.Bits()) {
				return dup
			}
		}
	}
	i.addrs[f] = append(i.addrs[f], p)
	if is6 {
		i.ip6Locks++
	}
	return 0
}

func toAddress(a netip.Addr) ip_types.Address {
	var out ip_types.Address
	if a.Is4() {
		out.Af = ip_types.ADDRESS_IP4
		out.Un.SetIP4(a.As4())
	} else {
		out.Af = ip_types.ADDRESS_IP6
		out.Un.SetIP6(a.As16())
	}
	return out
}

func fromAddress(a ip_types.Address) netip.Addr {
	if a.Af == ip_types.ADDRESS_IP6 {
		return netip.AddrFrom16(a.Un.GetIP6())
	}
	return netip.AddrFrom4(a.Un.GetIP4())
}

func toPrefix(p netip.Prefix) ip_types.Prefix {
	return ip_types.Prefix{Address: toAddress(p.Addr()), Len: uint8(p.Bits())}
}

func fromPrefix(p ip_types.Prefix) netip.Prefix {
	return netip.PrefixFrom(fromAddress(p.Address), int(p.Len))
}
