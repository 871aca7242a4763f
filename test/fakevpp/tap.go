package fakevpp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/tapv2"
)

type tapState struct {
	id            uint32
	flags         tapv2.TapFlags
	rxRing        uint16
	txRing        uint16
	hostIfName    string
	hostNamespace string
	hostMAC       net.HardwareAddr
	hostMTU       uint32
	hostIP4       ip_types.IP4AddressWithPrefix
	hostIP6       ip_types.IP6AddressWithPrefix
	dev           HostDevice
}

func validRing(n uint16) bool { return n != 0 && n&(n-1) == 0 && n <= 32768 }

func (e *Engine) registerTap() {
	st := &e.st
	// tap_create_v3 (src/vnet/devices/tap/tap.c, tapv2_api.c).
	on(e, func(_ *Client, req *tapv2.TapCreateV3) []api.Message {
		fail := func(rv int32) []api.Message {
			return one(&tapv2.TapCreateV3Reply{Retval: rv, SwIfIndex: interface_types.InterfaceIndex(invalidIndex)})
		}
		id := req.ID
		if id == invalidIndex {
			id = st.tapIDs.lowestClear()
		} else if st.tapIDs[id] {
			return fail(rvInvalidInterface)
		} else if id > 8192 {
			return fail(rvUnspecified)
		}
		if e.opts.NoVhostNet {
			// open("/dev/vhost-net") fails, before the rings are checked:
			// SYSCALL_ERROR_1.
			return fail(rvSyscallError1)
		}
		rx, tx := req.RxRingSz, req.TxRingSz
		if rx == 0 {
			rx = 256
		}
		if tx == 0 {
			tx = 256
		}
		if !validRing(rx) || !validRing(tx) {
			return fail(rvInitFailed)
		}
		tun := req.TapFlags&tapv2.TAP_API_FLAG_TUN != 0
		host := HostTap{Tun: tun, NumQueues: int(max(req.NumRxQueues, 1))}
		if req.HostNamespaceSet {
			host.HostNamespace = req.HostNamespace
		}
		if req.HostIfNameSet {
			host.HostIfName = req.HostIfName
		}
		if req.HostMacAddrSet && !tun {
			host.HostMAC = net.HardwareAddr(append([]byte(nil), req.HostMacAddr[:]...))
		}
		if req.HostMtuSet {
			host.HostMTU = req.HostMtuSize
		}
		if req.HostIP4PrefixSet {
			host.HostAddrs = append(host.HostAddrs, netip.PrefixFrom(netip.AddrFrom4(req.HostIP4Prefix.Address), int(req.HostIP4Prefix.Len)))
		}
		if req.HostIP6PrefixSet {
			host.HostAddrs = append(host.HostAddrs, netip.PrefixFrom(netip.AddrFrom16(req.HostIP6Prefix.Address), int(req.HostIP6Prefix.Len)))
		}
		if req.HostIP4GwSet {
			host.HostGateways = append(host.HostGateways, netip.AddrFrom4(req.HostIP4Gw))
		}
		if req.HostIP6GwSet {
			host.HostGateways = append(host.HostGateways, netip.AddrFrom16(req.HostIP6Gw))
		}
		dev, err := e.host.CreateTap(host)
		if err != nil {
			e.log.WithError(err).Warn("tap_create_v3: host side failed")
			var he *HostError
			if errors.As(err, &he) {
				return fail(he.Retval)
			}
			return fail(rvNetlinkError)
		}
		name := fmt.Sprintf("tap%d", id)
		kind := kindTap
		if tun {
			name = fmt.Sprintf("tun%d", id)
			kind = kindTun
		}
		i := st.newIface(kind, name, "virtio")
		i.linkUp = true
		if tun {
			i.mtu = [4]uint32{0, 0, 0, 0}
			i.linkMTU = 0
		} else if req.UseRandomMac {
			i.mac = randomMAC(rand.Uint32())
		} else {
			i.mac = net.HardwareAddr(append([]byte(nil), req.MacAddress[:]...))
		}
		if req.Tag != "" {
			i.tag = req.Tag
		}
		i.gso = req.TapFlags&tapv2.TAP_API_FLAG_GSO != 0
		st.tapIDs[id] = true
		i.tap = &tapState{id: id, flags: req.TapFlags, rxRing: rx, txRing: tx, hostIfName: dev.Name(),
			hostNamespace: host.HostNamespace, hostMAC: dev.MAC(), dev: dev}
		if req.HostMtuSet {
			i.tap.hostMTU = req.HostMtuSize
		}
		if req.HostIP4PrefixSet {
			i.tap.hostIP4 = req.HostIP4Prefix
		}
		if req.HostIP6PrefixSet {
			i.tap.hostIP6 = req.HostIP6Prefix
		}
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return one(&tapv2.TapCreateV3Reply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &tapv2.TapCreateV3Reply{})

	// tap_delete_v2: -2 for a missing or non-virtio interface, -71 for a
	// virtio-pci one (tap.c).
	on(e, func(_ *Client, req *tapv2.TapDeleteV2) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if ok && i.kind == kindVirtio {
			return one(&tapv2.TapDeleteV2Reply{Retval: rvInvalidInterface})
		}
		if !ok || i.tap == nil {
			return one(&tapv2.TapDeleteV2Reply{Retval: rvInvalidSwIfIndex})
		}
		e.deleteTap(i)
		return one(&tapv2.TapDeleteV2Reply{})
	}, &tapv2.TapDeleteV2Reply{})

	// sw_interface_tap_v2_dump: ~0 is all, anything else filters (so 0,
	// govpp's default, matches nothing).
	on(e, func(_ *Client, req *tapv2.SwInterfaceTapV2Dump) []api.Message {
		var out []api.Message
		for _, i := range st.sortedIfaces() {
			if i.tap == nil || (uint32(req.SwIfIndex) != invalidIndex && uint32(req.SwIfIndex) != i.idx) {
				continue
			}
			t := i.tap
			out = append(out, &tapv2.SwInterfaceTapV2Details{
				SwIfIndex: i.idx, ID: t.id, TxRingSz: t.txRing, RxRingSz: t.rxRing, HostMtuSize: t.hostMTU,
				HostMacAddr: macOf(t.hostMAC), HostIP4Prefix: t.hostIP4, HostIP6Prefix: t.hostIP6, TapFlags: t.flags,
				DevName: i.name, HostIfName: t.hostIfName, HostNamespace: t.hostNamespace,
			})
		}
		return out
	}, &tapv2.SwInterfaceTapV2Details{})
}

func (e *Engine) deleteTap(i *iface) {
	if err := i.tap.dev.Close(); err != nil {
		e.log.WithError(err).WithField("tap", i.name).Warn("remove host side of tap")
	}
	delete(e.st.tapIDs, i.tap.id)
	e.ifEvent(i.idx, 0, true)
	e.st.deleteIface(i)
}

// Close releases what the engine holds in Linux (VPP's tap devices vanish
// when VPP exits).
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopBridgesLocked()
	for _, i := range e.st.sortedIfaces() {
		if i.tap != nil {
			if err := i.tap.dev.Close(); err != nil {
				e.log.WithError(err).WithField("tap", i.name).Warn("remove host side of tap")
			}
		}
	}
}
