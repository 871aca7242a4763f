package vpplink

import (
	"os"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/af_packet"
	"go.fd.io/govpp/binapi/af_xdp"
	"go.fd.io/govpp/binapi/arp"
	"go.fd.io/govpp/binapi/avf"
	"go.fd.io/govpp/binapi/cnat"
	"go.fd.io/govpp/binapi/feature"
	"go.fd.io/govpp/binapi/gso"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip6_nd"
	"go.fd.io/govpp/binapi/ip_neighbor"
	"go.fd.io/govpp/binapi/ipip"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/binapi/tapv2"
	"go.fd.io/govpp/binapi/virtio"
	"go.fd.io/govpp/binapi/vlib"
	"go.fd.io/govpp/binapi/vpe"
	"go.fd.io/govpp/binapi/vxlan"
)

// UsedMessages lists every message this package sends or receives. Connect
// checks them against VPP's message table, and fakevpp's tests check that
// it implements each of them.
func UsedMessages() []api.Message { return usedMessages() }

func usedMessages() []api.Message {
	return []api.Message{
		&memclnt.ControlPing{}, &memclnt.ControlPingReply{},
		&vpe.ShowVersion{}, &vpe.ShowVersionReply{},
		&vlib.CliInband{}, &vlib.CliInbandReply{},

		&interfaces.SwInterfaceDump{}, &interfaces.SwInterfaceDetails{},
		&interfaces.CreateLoopback{}, &interfaces.CreateLoopbackReply{},
		&interfaces.DeleteLoopback{}, &interfaces.DeleteLoopbackReply{},
		&interfaces.SwInterfaceSetFlags{}, &interfaces.SwInterfaceSetFlagsReply{},
		&interfaces.SwInterfaceSetMtu{}, &interfaces.SwInterfaceSetMtuReply{},
		&interfaces.HwInterfaceSetMtu{}, &interfaces.HwInterfaceSetMtuReply{},
		&interfaces.SwInterfaceSetMacAddress{}, &interfaces.SwInterfaceSetMacAddressReply{},
		&interfaces.SwInterfaceAddDelAddress{}, &interfaces.SwInterfaceAddDelAddressReply{},
		&interfaces.SwInterfaceAddressReplaceBegin{}, &interfaces.SwInterfaceAddressReplaceBeginReply{},
		&interfaces.SwInterfaceAddressReplaceEnd{}, &interfaces.SwInterfaceAddressReplaceEndReply{},
		&interfaces.SwInterfaceSetRxMode{}, &interfaces.SwInterfaceSetRxModeReply{},
		&interfaces.SwInterfaceTagAddDel{}, &interfaces.SwInterfaceTagAddDelReply{},
		&interfaces.SwInterfaceSetTable{}, &interfaces.SwInterfaceSetTableReply{},
		&interfaces.SwInterfaceGetTable{}, &interfaces.SwInterfaceGetTableReply{},
		&interfaces.SwInterfaceSetUnnumbered{}, &interfaces.SwInterfaceSetUnnumberedReply{},
		&interfaces.WantInterfaceEvents{}, &interfaces.WantInterfaceEventsReply{}, &interfaces.SwInterfaceEvent{},
		&gso.FeatureGsoEnableDisable{}, &gso.FeatureGsoEnableDisableReply{},
		&feature.FeatureEnableDisable{}, &feature.FeatureEnableDisableReply{},

		&ip.IPAddressDump{}, &ip.IPAddressDetails{},
		&ip.SwInterfaceIP6EnableDisable{}, &ip.SwInterfaceIP6EnableDisableReply{},
		&ip.IPTableAddDel{}, &ip.IPTableAddDelReply{},
		&ip.IPTableDump{}, &ip.IPTableDetails{},
		&ip.IPRouteAddDel{}, &ip.IPRouteAddDelReply{},
		&ip.IPRouteDump{}, &ip.IPRouteDetails{},
		&ip.AddDelIPPuntRedirectV2{}, &ip.AddDelIPPuntRedirectV2Reply{},
		&ip.IPPuntRedirectV2Dump{}, &ip.IPPuntRedirectV2Details{},
		&ip_neighbor.IPNeighborAddDel{}, &ip_neighbor.IPNeighborAddDelReply{},
		&ip_neighbor.IPNeighborDump{}, &ip_neighbor.IPNeighborDetails{},
		&arp.ProxyArpAddDel{}, &arp.ProxyArpAddDelReply{},
		&arp.ProxyArpIntfcEnableDisable{}, &arp.ProxyArpIntfcEnableDisableReply{},
		&ip6_nd.IP6ndProxyAddDel{}, &ip6_nd.IP6ndProxyAddDelReply{},
		&ip6_nd.IP6ndProxyEnableDisable{}, &ip6_nd.IP6ndProxyEnableDisableReply{},

		&tapv2.TapCreateV3{}, &tapv2.TapCreateV3Reply{},
		&tapv2.TapDeleteV2{}, &tapv2.TapDeleteV2Reply{},
		&tapv2.SwInterfaceTapV2Dump{}, &tapv2.SwInterfaceTapV2Details{},
		&af_packet.AfPacketCreateV3{}, &af_packet.AfPacketCreateV3Reply{},
		&af_packet.AfPacketDelete{}, &af_packet.AfPacketDeleteReply{},
		&af_packet.AfPacketDump{}, &af_packet.AfPacketDetails{},
		&af_xdp.AfXdpCreateV3{}, &af_xdp.AfXdpCreateV3Reply{},
		&af_xdp.AfXdpDelete{}, &af_xdp.AfXdpDeleteReply{},
		&avf.AvfCreate{}, &avf.AvfCreateReply{},
		&avf.AvfDelete{}, &avf.AvfDeleteReply{},
		&virtio.VirtioPciCreateV2{}, &virtio.VirtioPciCreateV2Reply{},
		&virtio.VirtioPciDelete{}, &virtio.VirtioPciDeleteReply{},

		&ipip.IpipAddTunnel{}, &ipip.IpipAddTunnelReply{},
		&ipip.IpipDelTunnel{}, &ipip.IpipDelTunnelReply{},
		&ipip.IpipTunnelDump{}, &ipip.IpipTunnelDetails{},
		&vxlan.VxlanAddDelTunnelV3{}, &vxlan.VxlanAddDelTunnelV3Reply{},
		&vxlan.VxlanTunnelV2Dump{}, &vxlan.VxlanTunnelV2Details{},

		&cnat.CnatTranslationUpdate{}, &cnat.CnatTranslationUpdateReply{},
		&cnat.CnatTranslationDel{}, &cnat.CnatTranslationDelReply{},
		&cnat.CnatTranslationDump{}, &cnat.CnatTranslationDetails{},
		&cnat.CnatSetSnatAddresses{}, &cnat.CnatSetSnatAddressesReply{},
		&cnat.CnatGetSnatAddresses{}, &cnat.CnatGetSnatAddressesReply{},
		&cnat.CnatSetSnatPolicy{}, &cnat.CnatSetSnatPolicyReply{},
		&cnat.CnatSnatPolicyAddDelExcludePfx{}, &cnat.CnatSnatPolicyAddDelExcludePfxReply{},
		&cnat.CnatSnatPolicyAddDelIf{}, &cnat.CnatSnatPolicyAddDelIfReply{},

		&acl.ACLAddReplace{}, &acl.ACLAddReplaceReply{},
		&acl.ACLDel{}, &acl.ACLDelReply{},
		&acl.ACLDump{}, &acl.ACLDetails{},
		&acl.ACLInterfaceSetACLList{}, &acl.ACLInterfaceSetACLListReply{},
		&acl.ACLInterfaceListDump{}, &acl.ACLInterfaceListDetails{},
	}
}

func pid() int { return os.Getpid() }
