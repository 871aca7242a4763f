package vpplink

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/tapv2"
)

// Tap describes a tap (L2) or tun (L3) interface VPP creates with its Linux
// end in a network namespace. VPP needs /dev/vhost-net for these.
type Tap struct {
	// ID is the instance number (tapN / tunN); nil lets VPP pick one.
	ID  *uint32
	Tun bool
	// MAC is VPP's side (tap only); nil lets VPP pick a random one.
	MAC net.HardwareAddr

	HostNamespace string // netns name under /var/run/netns, or a path; "" is VPP's own
	HostIfName    string
	HostMAC       net.HardwareAddr // tap only
	HostMTU       uint32           // 0 leaves the kernel default
	HostIP4       netip.Prefix     // optional
	HostIP6       netip.Prefix     // optional

	NumRxQueues uint16
	NumTxQueues uint16
	RxRingSize  uint16
	TxRingSize  uint16
	GSO         bool
	Persist     bool
	Tag         string
}

func (t Tap) kind() string {
	if t.Tun {
		return "tun"
	}
	return "tap"
}

func (t Tap) String() string {
	ns := t.HostNamespace
	if ns == "" {
		ns = "vpp netns"
	}
	return fmt.Sprintf("%s %s in %s", t.kind(), t.HostIfName, ns)
}

// CreateTap creates the tap/tun and returns its sw_if_index.
func (v *VPP) CreateTap(ctx context.Context, t Tap) (SwIfIndex, error) {
	if t.HostIP4.IsValid() && !t.HostIP4.Addr().Is4() {
		return InvalidSwIfIndex, invalid("create "+t.kind(), t.String(), "HostIP4 %s is not IPv4", t.HostIP4)
	}
	if t.HostIP6.IsValid() && !t.HostIP6.Addr().Is6() {
		return InvalidSwIfIndex, invalid("create "+t.kind(), t.String(), "HostIP6 %s is not IPv6", t.HostIP6)
	}
	req := &tapv2.TapCreateV3{
		ID:               InvalidID,
		UseRandomMac:     t.MAC == nil,
		MacAddress:       toMAC(t.MAC),
		NumRxQueues:      max(t.NumRxQueues, 1),
		NumTxQueues:      max(t.NumTxQueues, 1),
		RxRingSz:         t.RxRingSize,
		TxRingSz:         t.TxRingSize,
		HostMtuSet:       t.HostMTU != 0,
		HostMtuSize:      t.HostMTU,
		HostMacAddrSet:   t.HostMAC != nil,
		HostMacAddr:      toMAC(t.HostMAC),
		HostNamespaceSet: t.HostNamespace != "",
		HostNamespace:    t.HostNamespace,
		HostIfNameSet:    t.HostIfName != "",
		HostIfName:       t.HostIfName,
		Tag:              t.Tag,
	}
	if req.RxRingSz == 0 {
		req.RxRingSz = 256
	}
	if req.TxRingSz == 0 {
		req.TxRingSz = 256
	}
	if t.HostIP4.IsValid() {
		req.HostIP4PrefixSet = true
		req.HostIP4Prefix = ip_types.IP4AddressWithPrefix{Address: t.HostIP4.Addr().As4(), Len: uint8(t.HostIP4.Bits())}
	}
	if t.HostIP6.IsValid() {
		req.HostIP6PrefixSet = true
		req.HostIP6Prefix = ip_types.IP6AddressWithPrefix{Address: t.HostIP6.Addr().As16(), Len: uint8(t.HostIP6.Bits())}
	}
	if t.Tun {
		req.TapFlags |= tapv2.TAP_API_FLAG_TUN
	}
	if t.GSO {
		req.TapFlags |= tapv2.TAP_API_FLAG_GSO
	}
	if t.Persist {
		req.TapFlags |= tapv2.TAP_API_FLAG_PERSIST
	}
	if t.ID != nil {
		req.ID = *t.ID
	}
	reply, err := tapv2.NewServiceClient(v.conn).TapCreateV3(ctx, req)
	if err != nil {
		return InvalidSwIfIndex, wrap("create "+t.kind(), t.String(), err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteTap deletes a tap or tun (its Linux end disappears with it).
func (v *VPP) DeleteTap(ctx context.Context, idx SwIfIndex) error {
	_, err := tapv2.NewServiceClient(v.conn).TapDeleteV2(ctx, &tapv2.TapDeleteV2{SwIfIndex: idx.api()})
	return wrap("delete tap", fmt.Sprint(idx), err)
}

// TapInfo is one entry of sw_interface_tap_v2_dump.
type TapInfo struct {
	SwIfIndex     SwIfIndex
	ID            uint32
	Tun           bool
	DevName       string
	HostIfName    string
	HostNamespace string
	HostMAC       net.HardwareAddr
	HostMTU       uint32
	RxRingSize    uint16
	TxRingSize    uint16
}

// Taps lists every tap and tun.
func (v *VPP) Taps(ctx context.Context) ([]TapInfo, error) {
	stream, err := tapv2.NewServiceClient(v.conn).SwInterfaceTapV2Dump(ctx, &tapv2.SwInterfaceTapV2Dump{SwIfIndex: InvalidSwIfIndex.api()})
	if err != nil {
		return nil, wrap("dump taps", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump taps", "", err)
	}
	out := make([]TapInfo, 0, len(details))
	for _, d := range details {
		out = append(out, TapInfo{
			SwIfIndex: SwIfIndex(d.SwIfIndex), ID: d.ID, Tun: d.TapFlags&tapv2.TAP_API_FLAG_TUN != 0,
			DevName: d.DevName, HostIfName: d.HostIfName, HostNamespace: d.HostNamespace,
			HostMAC: fromMAC(d.HostMacAddr), HostMTU: d.HostMtuSize, RxRingSize: d.RxRingSz, TxRingSize: d.TxRingSz,
		})
	}
	return out, nil
}
