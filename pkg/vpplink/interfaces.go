package vpplink

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.fd.io/govpp/binapi/gso"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
)

// Interface is one entry of sw_interface_dump.
type Interface struct {
	SwIfIndex    SwIfIndex
	SupSwIfIndex SwIfIndex
	Name         string
	DevType      string
	Tag          string
	MAC          net.HardwareAddr
	AdminUp      bool
	LinkUp       bool
	MTU          uint32 // L3 MTU
	LinkMTU      uint16
}

// RxMode is a receive mode for SetRxMode.
type RxMode uint32

// Receive modes, as interface_types.RxMode.
const (
	RxModePolling   = RxMode(interface_types.RX_MODE_API_POLLING)
	RxModeInterrupt = RxMode(interface_types.RX_MODE_API_INTERRUPT)
	RxModeAdaptive  = RxMode(interface_types.RX_MODE_API_ADAPTIVE)
	RxModeDefault   = RxMode(interface_types.RX_MODE_API_DEFAULT)
)

// ParseRxMode maps the configuration's names to modes ("" is default).
func ParseRxMode(s string) (RxMode, error) {
	switch s {
	case "", "default":
		return RxModeDefault, nil
	case "polling":
		return RxModePolling, nil
	case "interrupt":
		return RxModeInterrupt, nil
	case "adaptive":
		return RxModeAdaptive, nil
	}
	return 0, fmt.Errorf("unknown rx mode %q (want interrupt|adaptive|polling)", s)
}

func fromInterfaceDetails(d *interfaces.SwInterfaceDetails) Interface {
	i := Interface{
		SwIfIndex:    SwIfIndex(d.SwIfIndex),
		SupSwIfIndex: SwIfIndex(d.SupSwIfIndex),
		Name:         d.InterfaceName,
		DevType:      d.InterfaceDevType,
		Tag:          d.Tag,
		MAC:          fromMAC(d.L2Address),
		AdminUp:      d.Flags&interface_types.IF_STATUS_API_FLAG_ADMIN_UP != 0,
		LinkUp:       d.Flags&interface_types.IF_STATUS_API_FLAG_LINK_UP != 0,
		LinkMTU:      d.LinkMtu,
	}
	if len(d.Mtu) > 0 {
		i.MTU = d.Mtu[0]
	}
	return i
}

// Interfaces dumps every interface, local0 included.
func (v *VPP) Interfaces(ctx context.Context) ([]Interface, error) {
	return v.dumpInterfaces(ctx, &interfaces.SwInterfaceDump{SwIfIndex: InvalidSwIfIndex.api()}, "")
}

// Interface returns one interface; the error is RetvalInvalidSwIfIndex-like
// (IsNotFound) when it does not exist.
func (v *VPP) Interface(ctx context.Context, idx SwIfIndex) (Interface, error) {
	all, err := v.dumpInterfaces(ctx, &interfaces.SwInterfaceDump{SwIfIndex: idx.api()}, fmt.Sprint(idx))
	if err != nil {
		return Interface{}, err
	}
	for _, i := range all {
		if i.SwIfIndex == idx {
			return i, nil
		}
	}
	return Interface{}, &Error{Op: "get interface", Object: fmt.Sprint(idx), Retval: RetvalInvalidSwIfIndex}
}

// InterfaceByTag returns the interface carrying tag, if any.
func (v *VPP) InterfaceByTag(ctx context.Context, tag string) (Interface, bool, error) {
	all, err := v.Interfaces(ctx)
	if err != nil {
		return Interface{}, false, err
	}
	for _, i := range all {
		if i.Tag == tag {
			return i, true, nil
		}
	}
	return Interface{}, false, nil
}

// InterfaceByName returns the interface with that VPP name, if any.
func (v *VPP) InterfaceByName(ctx context.Context, name string) (Interface, bool, error) {
	all, err := v.dumpInterfaces(ctx, &interfaces.SwInterfaceDump{SwIfIndex: InvalidSwIfIndex.api(), NameFilterValid: true, NameFilter: name}, name)
	if err != nil {
		return Interface{}, false, err
	}
	// The name filter is a substring match in VPP: keep the exact one.
	for _, i := range all {
		if i.Name == name {
			return i, true, nil
		}
	}
	return Interface{}, false, nil
}

func (v *VPP) dumpInterfaces(ctx context.Context, req *interfaces.SwInterfaceDump, object string) ([]Interface, error) {
	stream, err := interfaces.NewServiceClient(v.conn).SwInterfaceDump(ctx, req)
	if err != nil {
		return nil, wrap("dump interfaces", object, err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump interfaces", object, err)
	}
	out := make([]Interface, 0, len(details))
	for _, d := range details {
		out = append(out, fromInterfaceDetails(d))
	}
	return out, nil
}

// SetInterfaceUp sets the admin state.
func (v *VPP) SetInterfaceUp(ctx context.Context, idx SwIfIndex, up bool) error {
	var flags interface_types.IfStatusFlags
	op := "set interface down"
	if up {
		flags = interface_types.IF_STATUS_API_FLAG_ADMIN_UP
		op = "set interface up"
	}
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetFlags(ctx, &interfaces.SwInterfaceSetFlags{SwIfIndex: idx.api(), Flags: flags})
	return wrap(op, fmt.Sprint(idx), err)
}

// SetInterfaceMTU sets the interface's L3 MTU (all protocols).
func (v *VPP) SetInterfaceMTU(ctx context.Context, idx SwIfIndex, mtu uint32) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetMtu(ctx, &interfaces.SwInterfaceSetMtu{SwIfIndex: idx.api(), Mtu: []uint32{mtu, 0, 0, 0}})
	return wrap("set interface mtu", fmt.Sprintf("%d to %d", idx, mtu), err)
}

// SetHardwareMTU sets the maximum frame size of a hardware interface.
func (v *VPP) SetHardwareMTU(ctx context.Context, idx SwIfIndex, mtu uint16) error {
	_, err := interfaces.NewServiceClient(v.conn).HwInterfaceSetMtu(ctx, &interfaces.HwInterfaceSetMtu{SwIfIndex: idx.api(), Mtu: mtu})
	return wrap("set hardware mtu", fmt.Sprintf("%d to %d", idx, mtu), err)
}

// SetInterfaceMAC sets the interface's MAC address.
func (v *VPP) SetInterfaceMAC(ctx context.Context, idx SwIfIndex, mac net.HardwareAddr) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetMacAddress(ctx, &interfaces.SwInterfaceSetMacAddress{SwIfIndex: idx.api(), MacAddress: toMAC(mac)})
	return wrap("set interface mac", fmt.Sprintf("%d to %s", idx, mac), err)
}

// AddInterfaceAddress adds an address (with its prefix length).
func (v *VPP) AddInterfaceAddress(ctx context.Context, idx SwIfIndex, addr netip.Prefix) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceAddDelAddress(ctx, &interfaces.SwInterfaceAddDelAddress{SwIfIndex: idx.api(), IsAdd: true, Prefix: toAddressWithPrefix(addr)})
	return wrap("add interface address", fmt.Sprintf("%s on %d", addr, idx), err)
}

// DelInterfaceAddress removes an address.
func (v *VPP) DelInterfaceAddress(ctx context.Context, idx SwIfIndex, addr netip.Prefix) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceAddDelAddress(ctx, &interfaces.SwInterfaceAddDelAddress{SwIfIndex: idx.api(), Prefix: toAddressWithPrefix(addr)})
	return wrap("delete interface address", fmt.Sprintf("%s on %d", addr, idx), err)
}

// DelAllInterfaceAddresses removes every address of the interface.
func (v *VPP) DelAllInterfaceAddresses(ctx context.Context, idx SwIfIndex) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceAddDelAddress(ctx, &interfaces.SwInterfaceAddDelAddress{SwIfIndex: idx.api(), DelAll: true})
	return wrap("delete all interface addresses", fmt.Sprint(idx), err)
}

// InterfaceAddresses lists an interface's addresses of one family.
func (v *VPP) InterfaceAddresses(ctx context.Context, idx SwIfIndex, is6 bool) ([]netip.Prefix, error) {
	stream, err := ip.NewServiceClient(v.conn).IPAddressDump(ctx, &ip.IPAddressDump{SwIfIndex: idx.api(), IsIPv6: is6})
	if err != nil {
		return nil, wrap("dump interface addresses", fmt.Sprint(idx), err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump interface addresses", fmt.Sprint(idx), err)
	}
	out := make([]netip.Prefix, 0, len(details))
	for _, d := range details {
		out = append(out, fromAddressWithPrefix(d.Prefix))
	}
	return out, nil
}

// SetRxMode sets the receive mode of every queue of the interface.
func (v *VPP) SetRxMode(ctx context.Context, idx SwIfIndex, mode RxMode) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetRxMode(ctx, &interfaces.SwInterfaceSetRxMode{SwIfIndex: idx.api(), Mode: interface_types.RxMode(mode)})
	return wrap("set rx mode", fmt.Sprint(idx), err)
}

// SetInterfaceTag tags an interface (at most 63 bytes): the agent marks what
// it owns this way.
func (v *VPP) SetInterfaceTag(ctx context.Context, idx SwIfIndex, tag string) error {
	if len(tag) > 63 || tag == "" {
		return invalid("set interface tag", fmt.Sprint(idx), "tag %q must have 1 to 63 bytes", tag)
	}
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceTagAddDel(ctx, &interfaces.SwInterfaceTagAddDel{IsAdd: true, SwIfIndex: idx.api(), Tag: tag})
	return wrap("set interface tag", fmt.Sprintf("%q on %d", tag, idx), err)
}

// DelInterfaceTag removes the interface's tag.
func (v *VPP) DelInterfaceTag(ctx context.Context, idx SwIfIndex) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceTagAddDel(ctx, &interfaces.SwInterfaceTagAddDel{SwIfIndex: idx.api()})
	return wrap("delete interface tag", fmt.Sprint(idx), err)
}

// SetInterfaceTable binds the interface to a VRF for one family.
func (v *VPP) SetInterfaceTable(ctx context.Context, idx SwIfIndex, is6 bool, table uint32) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetTable(ctx, &interfaces.SwInterfaceSetTable{SwIfIndex: idx.api(), IsIPv6: is6, VrfID: table})
	return wrap("set interface table", fmt.Sprintf("%d %s to %d", idx, ipFamily(is6), table), err)
}

// InterfaceTable returns the VRF the interface is bound to for one family.
func (v *VPP) InterfaceTable(ctx context.Context, idx SwIfIndex, is6 bool) (uint32, error) {
	reply, err := interfaces.NewServiceClient(v.conn).SwInterfaceGetTable(ctx, &interfaces.SwInterfaceGetTable{SwIfIndex: idx.api(), IsIPv6: is6})
	if err != nil {
		return 0, wrap("get interface table", fmt.Sprint(idx), err)
	}
	return reply.VrfID, nil
}

// SetUnnumbered makes idx borrow the addresses of from (or stop, add=false).
func (v *VPP) SetUnnumbered(ctx context.Context, idx, from SwIfIndex, add bool) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceSetUnnumbered(ctx, &interfaces.SwInterfaceSetUnnumbered{SwIfIndex: from.api(), UnnumberedSwIfIndex: idx.api(), IsAdd: add})
	return wrap("set unnumbered", fmt.Sprintf("%d from %d", idx, from), err)
}

// EnableIP6 enables IPv6 processing (link-local address) on the interface.
func (v *VPP) EnableIP6(ctx context.Context, idx SwIfIndex, enable bool) error {
	_, err := ip.NewServiceClient(v.conn).SwInterfaceIP6EnableDisable(ctx, &ip.SwInterfaceIP6EnableDisable{SwIfIndex: idx.api(), Enable: enable})
	return wrap("enable ip6", fmt.Sprint(idx), err)
}

// EnableGSO turns the GSO feature on or off on the interface.
func (v *VPP) EnableGSO(ctx context.Context, idx SwIfIndex, enable bool) error {
	_, err := gso.NewServiceClient(v.conn).FeatureGsoEnableDisable(ctx, &gso.FeatureGsoEnableDisable{SwIfIndex: idx.api(), EnableDisable: enable})
	return wrap("enable gso", fmt.Sprint(idx), err)
}

// InterfaceEvent reports an interface's state change or deletion.
type InterfaceEvent struct {
	SwIfIndex SwIfIndex
	AdminUp   bool
	LinkUp    bool
	Deleted   bool
}

// WatchInterfaceEvents subscribes to interface events and calls fn for each
// until ctx ends, then unsubscribes. It returns nil when ctx ends. VPP
// allows one subscription per connection: do not run two at once. fn must
// be quick: govpp drops events its buffer cannot hold.
func (v *VPP) WatchInterfaceEvents(ctx context.Context, fn func(InterfaceEvent)) error {
	watcher, err := v.conn.WatchEvent(ctx, &interfaces.SwInterfaceEvent{})
	if err != nil {
		return wrap("watch interface events", "", err)
	}
	defer watcher.Close()
	client := interfaces.NewServiceClient(v.conn)
	if _, err := client.WantInterfaceEvents(ctx, &interfaces.WantInterfaceEvents{EnableDisable: 1, PID: uint32(pid())}); err != nil {
		return wrap("want interface events", "", err)
	}
	defer func() {
		// ctx has ended: unsubscribe within a short deadline of our own.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = client.WantInterfaceEvents(uctx, &interfaces.WantInterfaceEvents{EnableDisable: 0, PID: uint32(pid())})
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-watcher.Events():
			if !ok {
				return nil
			}
			if e, ok := msg.(*interfaces.SwInterfaceEvent); ok {
				fn(InterfaceEvent{
					SwIfIndex: SwIfIndex(e.SwIfIndex),
					AdminUp:   e.Flags&interface_types.IF_STATUS_API_FLAG_ADMIN_UP != 0,
					LinkUp:    e.Flags&interface_types.IF_STATUS_API_FLAG_LINK_UP != 0,
					Deleted:   e.Deleted,
				})
			}
		}
	}
}

// ReplaceAddressesBegin marks every interface address stale; addresses
// added again before ReplaceAddressesEnd are kept, the others removed
// (VPP's sw_interface_address_replace_begin/_end mark-and-sweep).
func (v *VPP) ReplaceAddressesBegin(ctx context.Context) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceAddressReplaceBegin(ctx, &interfaces.SwInterfaceAddressReplaceBegin{})
	return wrap("begin address replace", "", err)
}

// ReplaceAddressesEnd removes the addresses still stale.
func (v *VPP) ReplaceAddressesEnd(ctx context.Context) error {
	_, err := interfaces.NewServiceClient(v.conn).SwInterfaceAddressReplaceEnd(ctx, &interfaces.SwInterfaceAddressReplaceEnd{})
	return wrap("end address replace", "", err)
}

// CreateLoopback creates a loopback (loopN, an ethernet interface whose
// link follows its admin state). A nil MAC gives VPP's de:ad:00:00:00:N.
func (v *VPP) CreateLoopback(ctx context.Context, mac net.HardwareAddr) (SwIfIndex, error) {
	reply, err := interfaces.NewServiceClient(v.conn).CreateLoopback(ctx, &interfaces.CreateLoopback{MacAddress: toMAC(mac)})
	if err != nil {
		return InvalidSwIfIndex, wrap("create loopback", mac.String(), err)
	}
	return SwIfIndex(reply.SwIfIndex), nil
}

// DeleteLoopback deletes a loopback.
func (v *VPP) DeleteLoopback(ctx context.Context, idx SwIfIndex) error {
	_, err := interfaces.NewServiceClient(v.conn).DeleteLoopback(ctx, &interfaces.DeleteLoopback{SwIfIndex: idx.api()})
	return wrap("delete loopback", fmt.Sprint(idx), err)
}
