package fakevpp

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strings"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/af_packet"
	"go.fd.io/govpp/binapi/af_xdp"
	"go.fd.io/govpp/binapi/avf"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/virtio"
)

type afPacketState struct{ hostIfName string }

type afXDPState struct {
	hostIf, netns string
	devInstance   uint32
}

// pciString formats a PCI address as VPP prints it in interface names:
// lowercase hex, unpadded (avf-0/3b/2/0).
func pciName(domain uint16, bus, slot, fn uint8) string {
	return fmt.Sprintf("%x/%x/%x/%x", domain, bus, slot, fn)
}

func (st *state) pciInUse(pci string) bool {
	for _, i := range st.ifs {
		if i.pci == pci {
			return true
		}
	}
	return false
}

// addDPDKDevice creates the interface the dpdk plugin makes for a
// dpdk { dev <pci> { name <n> } } entry. Without a name VPP derives one
// from the link speed; the fake says GigabitEthernet.
func (e *Engine) addDPDKDevice(d DPDKDevice) error {
	var dom, bus, slot, fn uint32
	if _, err := fmt.Sscanf(d.PCI, "%04x:%02x:%02x.%1x", &dom, &bus, &slot, &fn); err != nil {
		return fmt.Errorf("dpdk dev %q: invalid PCI address", d.PCI)
	}
	name := d.Name
	if name == "" {
		name = "GigabitEthernet" + fmt.Sprintf("%x/%x/%x", bus, slot, fn)
	}
	i := e.st.newIface(kindDPDK, name, "dpdk")
	i.mac = randomMAC(rand.Uint32())
	i.linkUp = true
	i.pci = d.PCI
	return nil
}

func (e *Engine) registerHostInterfaces() {
	st := &e.st
	// af_packet_create_v3 (src/plugins/af_packet/af_packet.c): mode must be
	// ethernet or ip (-7); an attached host interface is -79 with the
	// existing index; a missing one is -71 with index 0.
	on(e, func(_ *Client, req *af_packet.AfPacketCreateV3) []api.Message {
		if req.Mode != af_packet.AF_PACKET_API_MODE_ETHERNET && req.Mode != af_packet.AF_PACKET_API_MODE_IP {
			return one(&af_packet.AfPacketCreateV3Reply{Retval: rvInvalidValue, SwIfIndex: interface_types.InterfaceIndex(invalidIndex)})
		}
		for _, i := range st.ifs {
			if i.afp != nil && i.afp.hostIfName == req.HostIfName {
				return one(&af_packet.AfPacketCreateV3Reply{Retval: rvIfAlreadyExists, SwIfIndex: interface_types.InterfaceIndex(i.idx)})
			}
		}
		info, found, err := e.host.Link("", req.HostIfName)
		if err != nil {
			return one(&af_packet.AfPacketCreateV3Reply{Retval: rvSyscallError1})
		}
		if !found {
			return one(&af_packet.AfPacketCreateV3Reply{Retval: rvInvalidInterface})
		}
		if err := e.host.SetLinkUp("", req.HostIfName); err != nil {
			return one(&af_packet.AfPacketCreateV3Reply{Retval: rvSyscallError1})
		}
		i := st.newIface(kindAFPacket, "host-"+req.HostIfName, "af-packet")
		i.linkUp = true
		if info.MTU > 0 {
			i.mtu[0] = uint32(info.MTU)
			i.linkMTU = uint16(info.MTU)
		}
		if req.Mode == af_packet.AF_PACKET_API_MODE_IP {
			i.mac = nil
		} else if req.UseRandomHwAddr {
			i.mac = randomMAC(rand.Uint32())
		} else {
			i.mac = net.HardwareAddr(append([]byte(nil), req.HwAddr[:]...))
		}
		i.afp = &afPacketState{hostIfName: req.HostIfName}
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return one(&af_packet.AfPacketCreateV3Reply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &af_packet.AfPacketCreateV3Reply{})

	// af_packet_delete: by host name; missing is SYSCALL_ERROR_1.
	on(e, func(_ *Client, req *af_packet.AfPacketDelete) []api.Message {
		for _, i := range st.ifs {
			if i.afp != nil && i.afp.hostIfName == req.HostIfName {
				e.ifEvent(i.idx, 0, true)
				st.deleteIface(i)
				return one(&af_packet.AfPacketDeleteReply{})
			}
		}
		return one(&af_packet.AfPacketDeleteReply{Retval: rvSyscallError1})
	}, &af_packet.AfPacketDeleteReply{})

	on(e, func(_ *Client, _ *af_packet.AfPacketDump) []api.Message {
		var out []api.Message
		for _, i := range st.sortedIfaces() {
			if i.afp != nil {
				out = append(out, &af_packet.AfPacketDetails{SwIfIndex: interface_types.InterfaceIndex(i.idx), HostIfName: i.afp.hostIfName})
			}
		}
		return out
	}, &af_packet.AfPacketDetails{})

	// af_xdp_create_v3 (src/plugins/af_xdp/device.c): host_if required,
	// queue sizes powers of two of at least 256, the host interface must
	// exist; failures report index 0. Name: <host_if>/<dev_instance>.
	on(e, func(_ *Client, req *af_xdp.AfXdpCreateV3) []api.Message {
		bad := func(rv int32) []api.Message { return one(&af_xdp.AfXdpCreateV3Reply{Retval: rv}) }
		if req.HostIf == "" {
			return bad(rvInvalidValue)
		}
		for _, q := range []uint16{req.RxqSize, req.TxqSize} {
			if q != 0 && (q < 256 || q&(q-1) != 0) {
				return bad(rvInvalidValue)
			}
		}
		if _, found, err := e.host.Link(req.Netns, req.HostIf); err != nil || !found {
			return bad(rvInvalidValue)
		}
		// Name: given, or <host_if>/<dev_instance> (device pool, LIFO reuse),
		// or <host_if>/<pid> for a pid:N namespace (device.c).
		dev := st.xdpPool.get()
		name := req.Name
		if name == "" {
			name = fmt.Sprintf("%s/%d", req.HostIf, dev)
			if pid, ok := strings.CutPrefix(req.Netns, "pid:"); ok {
				name = req.HostIf + "/" + pid
			}
		}
		i := st.newIface(kindAFXDP, name, "AF_XDP interface")
		i.mac = randomMAC(rand.Uint32())
		i.linkUp = true
		i.xdp = &afXDPState{hostIf: req.HostIf, netns: req.Netns, devInstance: dev}
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return one(&af_xdp.AfXdpCreateV3Reply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &af_xdp.AfXdpCreateV3Reply{})

	on(e, func(_ *Client, req *af_xdp.AfXdpDelete) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || i.xdp == nil {
			return one(&af_xdp.AfXdpDeleteReply{Retval: rvInvalidInterface})
		}
		st.xdpPool.put(i.xdp.devInstance)
		e.ifEvent(i.idx, 0, true)
		st.deleteIface(i)
		return one(&af_xdp.AfXdpDeleteReply{})
	}, &af_xdp.AfXdpDeleteReply{})

	// avf_create (src/plugins/avf/device.c): queue sizes powers of two in
	// [64, 4096]; a PCI address in use is -105. The fake treats every other
	// address as a VF bound to vfio-pci. Name avf-<d>/<b>/<s>/<f>.
	on(e, func(_ *Client, req *avf.AvfCreate) []api.Message {
		for _, q := range []uint16{req.RxqSize, req.TxqSize} {
			if q != 0 && (q < 64 || q > 4096 || q&(q-1) != 0) {
				return one(&avf.AvfCreateReply{Retval: rvInvalidValue, SwIfIndex: interface_types.InterfaceIndex(invalidIndex)})
			}
		}
		a := req.PciAddr
		dom, bus, slot, fn := uint16(a), uint8(a>>16), uint8(a>>24)&0x1f, uint8(a>>29)
		pci := fmt.Sprintf("%04x:%02x:%02x.%x", dom, bus, slot, fn)
		if st.pciInUse(pci) {
			return one(&avf.AvfCreateReply{Retval: rvAddressInUse, SwIfIndex: interface_types.InterfaceIndex(invalidIndex)})
		}
		i := st.newIface(kindAVF, "avf-"+pciName(dom, bus, slot, fn), "Adaptive Virtual Function (AVF) interface")
		i.mac = randomMAC(rand.Uint32())
		i.pci = pci
		i.linkUp = true
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return one(&avf.AvfCreateReply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &avf.AvfCreateReply{})

	on(e, func(_ *Client, req *avf.AvfDelete) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || i.kind != kindAVF {
			return one(&avf.AvfDeleteReply{Retval: rvInvalidInterface})
		}
		e.ifEvent(i.idx, 0, true)
		st.deleteIface(i)
		return one(&avf.AvfDeleteReply{})
	}, &avf.AvfDeleteReply{})

	// virtio_pci_create_v2 (src/vnet/devices/virtio/pci.c): a PCI address
	// in use is -105. Name virtio-<d>/<b>/<s>/<f>.
	on(e, func(_ *Client, req *virtio.VirtioPciCreateV2) []api.Message {
		a := req.PciAddr
		pci := fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
		if st.pciInUse(pci) {
			return one(&virtio.VirtioPciCreateV2Reply{Retval: rvAddressInUse, SwIfIndex: interface_types.InterfaceIndex(invalidIndex)})
		}
		i := st.newIface(kindVirtio, "virtio-"+pciName(a.Domain, a.Bus, a.Slot, a.Function), "virtio")
		// use_random_mac keeps the device's own MAC (random here); without
		// it VPP programs the given one, even all zeros (virtio_api.c).
		if req.UseRandomMac {
			i.mac = randomMAC(rand.Uint32())
		} else {
			i.mac = net.HardwareAddr(append([]byte(nil), req.MacAddress[:]...))
		}
		i.pci = pci
		i.linkUp = true
		e.ifEvent(i.idx, uint32(interface_types.IF_STATUS_API_FLAG_LINK_UP), false)
		return one(&virtio.VirtioPciCreateV2Reply{SwIfIndex: interface_types.InterfaceIndex(i.idx)})
	}, &virtio.VirtioPciCreateV2Reply{})

	on(e, func(_ *Client, req *virtio.VirtioPciDelete) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok || (i.kind != kindVirtio && i.tap == nil) {
			return one(&virtio.VirtioPciDeleteReply{Retval: rvInvalidSwIfIndex})
		}
		if i.tap != nil {
			return one(&virtio.VirtioPciDeleteReply{Retval: rvInvalidInterface})
		}
		e.ifEvent(i.idx, 0, true)
		st.deleteIface(i)
		return one(&virtio.VirtioPciDeleteReply{})
	}, &virtio.VirtioPciDeleteReply{})
}
