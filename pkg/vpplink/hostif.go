package vpplink

import (
	"context"
	"fmt"
	"net"

	"go.fd.io/govpp/binapi/af_packet"
	"go.fd.io/govpp/binapi/af_xdp"
	"go.fd.io/govpp/binapi/avf"
	"go.fd.io/govpp/binapi/pci_types"
	"go.fd.io/govpp/binapi/virtio"
)

// AFPacket attaches VPP to a Linux interface of VPP's own network
// namespace through an AF_PACKET socket. VPP names it host-<HostIfName>.
type AFPacket struct {
	HostIfName  string
	MAC         net.HardwareAddr // nil: VPP picks a random MAC
	NumRxQueues uint16
	NumTxQueues uint16
	RxFrameSize uint32 // 0: VPP's default
	TxFrameSize uint32
	QdiscBypass bool
	CksumGSO    bool
}

// CreateAFPacket creates the AF_PACKET interface.
func (v *VPP) CreateAFPacket(ctx context.Context, a AFPacket) (SwIfIndex, error) {
	req := &af_packet.AfPacketCreateV3{
		HostIfName:      a.HostIfName,
		HwAddr:          toMAC(a.MAC),
		UseRandomHwAddr: a.MAC == nil,
		RxFrameSize:     a.RxFrameSize,
		TxFrameSize:     a.TxFrameSize,
		NumRxQueues:     max(a.NumRxQueues, 1),
		NumTxQueues:     max(a.NumTxQueues, 1),
		Mode:            af_packet.AF_PACKET_API_MODE_ETHERNET,
	}
	if a.QdiscBypass {
		req.Flags |= af_packet.AF_PACKET_API_FLAG_QDISC_BYPASS
	}
	if a.CksumGSO {
		req.Flags |= af_packet.AF_PACKET_API_FLAG_CKSUM_GSO
	}
	reply, err := af_packet.NewServiceClient(v.conn).AfPacketCreateV3(ctx, req)
	if err != nil {
		// On IF_ALREADY_EXISTS VPP names the existing interface.
		err = wrap("create af_packet", a.HostIfName, err)
		if reply != nil && IsRetval(err, RetvalIfAlreadyExists) {
			return SwIfIndex(reply.SwIfIndex), err
		}
		return InvalidSwIfIndex, err
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteAFPacket deletes the AF_PACKET interface bound to hostIfName.
func (v *VPP) DeleteAFPacket(ctx context.Context, hostIfName string) error {
	_, err := af_packet.NewServiceClient(v.conn).AfPacketDelete(ctx, &af_packet.AfPacketDelete{HostIfName: hostIfName})
	return wrap("delete af_packet", hostIfName, err)
}

// AFPacketInfo is one entry of af_packet_dump.
type AFPacketInfo struct {
	SwIfIndex  SwIfIndex
	HostIfName string
}

// AFPackets lists the AF_PACKET interfaces.
func (v *VPP) AFPackets(ctx context.Context) ([]AFPacketInfo, error) {
	stream, err := af_packet.NewServiceClient(v.conn).AfPacketDump(ctx, &af_packet.AfPacketDump{})
	if err != nil {
		return nil, wrap("dump af_packet", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump af_packet", "", err)
	}
	out := make([]AFPacketInfo, 0, len(details))
	for _, d := range details {
		out = append(out, AFPacketInfo{SwIfIndex: SwIfIndex(d.SwIfIndex), HostIfName: d.HostIfName})
	}
	return out, nil
}

// AFXDP attaches VPP to a Linux interface through AF_XDP sockets.
type AFXDP struct {
	HostIfName  string
	Name        string // VPP interface name; "" lets VPP choose
	Netns       string // namespace of HostIfName; "" is VPP's own
	NumRxQueues uint16
	RxQueueSize uint16
	TxQueueSize uint16
}

// CreateAFXDP creates the AF_XDP interface.
func (v *VPP) CreateAFXDP(ctx context.Context, a AFXDP) (SwIfIndex, error) {
	reply, err := af_xdp.NewServiceClient(v.conn).AfXdpCreateV3(ctx, &af_xdp.AfXdpCreateV3{
		HostIf: a.HostIfName, Name: a.Name, Netns: a.Netns,
		RxqNum: max(a.NumRxQueues, 1), RxqSize: a.RxQueueSize, TxqSize: a.TxQueueSize,
		Mode: af_xdp.AF_XDP_API_MODE_AUTO,
	})
	if err != nil {
		return InvalidSwIfIndex, wrap("create af_xdp", a.HostIfName, err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteAFXDP deletes an AF_XDP interface.
func (v *VPP) DeleteAFXDP(ctx context.Context, idx SwIfIndex) error {
	_, err := af_xdp.NewServiceClient(v.conn).AfXdpDelete(ctx, &af_xdp.AfXdpDelete{SwIfIndex: idx.api()})
	return wrap("delete af_xdp", fmt.Sprint(idx), err)
}

// PCIAddress is a PCI device address (domain:bus:slot.function).
type PCIAddress struct {
	Domain   uint16
	Bus      uint8
	Slot     uint8
	Function uint8
}

// ParsePCIAddress parses "0000:00:04.0".
func ParsePCIAddress(s string) (PCIAddress, error) {
	var a PCIAddress
	if _, err := fmt.Sscanf(s, "%04x:%02x:%02x.%1x", &a.Domain, &a.Bus, &a.Slot, &a.Function); err != nil {
		return PCIAddress{}, fmt.Errorf("invalid PCI address %q (want dddd:bb:ss.f)", s)
	}
	return a, nil
}

func (a PCIAddress) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
}

// packed is VPP's u32 encoding of a PCI address used by avf_create.
func (a PCIAddress) packed() uint32 {
	return uint32(a.Domain) | uint32(a.Bus)<<16 | uint32(a.Slot)<<24 | uint32(a.Function)<<29
}

// AVF is an Intel Adaptive Virtual Function driven natively by VPP.
type AVF struct {
	PCI         PCIAddress
	NumRxQueues uint16
	RxQueueSize uint16
	TxQueueSize uint16
}

// CreateAVF creates an AVF interface.
func (v *VPP) CreateAVF(ctx context.Context, a AVF) (SwIfIndex, error) {
	reply, err := avf.NewServiceClient(v.conn).AvfCreate(ctx, &avf.AvfCreate{
		PciAddr: a.PCI.packed(), RxqNum: a.NumRxQueues, RxqSize: a.RxQueueSize, TxqSize: a.TxQueueSize,
	})
	if err != nil {
		return InvalidSwIfIndex, wrap("create avf", a.PCI.String(), err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteAVF deletes an AVF interface.
func (v *VPP) DeleteAVF(ctx context.Context, idx SwIfIndex) error {
	_, err := avf.NewServiceClient(v.conn).AvfDelete(ctx, &avf.AvfDelete{SwIfIndex: idx.api()})
	return wrap("delete avf", fmt.Sprint(idx), err)
}

// VirtioPCI is a virtio-net PCI device driven natively by VPP.
type VirtioPCI struct {
	PCI PCIAddress
	MAC net.HardwareAddr // nil: the device's own
	GSO bool
}

// CreateVirtio creates a native virtio interface.
func (v *VPP) CreateVirtio(ctx context.Context, d VirtioPCI) (SwIfIndex, error) {
	req := &virtio.VirtioPciCreateV2{
		PciAddr:    pci_types.PciAddress{Domain: d.PCI.Domain, Bus: d.PCI.Bus, Slot: d.PCI.Slot, Function: d.PCI.Function},
		MacAddress: toMAC(d.MAC),
		// Without it VPP would program the zero MAC we send; with it, VPP
		// keeps the device's own.
		UseRandomMac: d.MAC == nil,
	}
	if d.GSO {
		req.VirtioFlags |= virtio.VIRTIO_API_FLAG_GSO
	}
	reply, err := virtio.NewServiceClient(v.conn).VirtioPciCreateV2(ctx, req)
	if err != nil {
		return InvalidSwIfIndex, wrap("create virtio", d.PCI.String(), err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteVirtio deletes a native virtio interface.
func (v *VPP) DeleteVirtio(ctx context.Context, idx SwIfIndex) error {
	_, err := virtio.NewServiceClient(v.conn).VirtioPciDelete(ctx, &virtio.VirtioPciDelete{SwIfIndex: idx.api()})
	return wrap("delete virtio", fmt.Sprint(idx), err)
}
