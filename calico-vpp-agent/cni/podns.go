package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Link-local next hops of every pod route. They exist nowhere: a pod's
// interface is point-to-point to VPP (a tun has no link layer at all; a
// tap or veth gets a static neighbour), so the pod needs no ARP/ND and
// every pod on every node sees the same gateway.
var (
	PodGatewayIPv4 = netip.MustParseAddr("169.254.1.1")
	PodGatewayIPv6 = netip.MustParseAddr("fe80::1:1")
)

// ConfigurePodNetns gives the pod's interface (already in the pod's
// namespace, created by VPP or as a veth) its addresses and routes, and
// brings it up. gatewayMAC is VPP's MAC on an L2 interface (tap, veth),
// installed as the gateways' permanent neighbour; nil for a tun. It is
// idempotent: an agent replaying a pod after a restart changes nothing.
func ConfigurePodNetns(pod Pod, gatewayMAC net.HardwareAddr) error {
	ns, err := netns.GetFromPath(pod.Netns)
	if err != nil {
		return fmt.Errorf("open netns %s of pod %s: %w", pod.Netns, pod.Key, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", pod.Netns, err)
	}
	defer h.Close()
	link, err := h.LinkByName(pod.InterfaceName)
	if err != nil {
		return fmt.Errorf("find %s in netns %s: %w", pod.InterfaceName, pod.Netns, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up in %s: %w", pod.InterfaceName, pod.Netns, err)
	}
	var errs []error
	for _, a := range pod.Addresses {
		addr := &netlink.Addr{IPNet: prefixNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD // nobody else is on the link
		}
		if err := h.AddrReplace(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("add address %s: %w", a, err))
		}
	}
	for _, gw := range []netip.Addr{PodGatewayIPv4, PodGatewayIPv6} {
		if (gw.Is4() && !pod.HasIPv4()) || (gw.Is6() && !pod.HasIPv6()) {
			continue
		}
		if gatewayMAC != nil {
			neigh := &netlink.Neigh{LinkIndex: link.Attrs().Index, IP: gw.AsSlice(), HardwareAddr: gatewayMAC,
				State: netlink.NUD_PERMANENT, Family: family(gw)}
			if err := h.NeighSet(neigh); err != nil {
				errs = append(errs, fmt.Errorf("add neighbour %s: %w", gw, err))
			}
		}
	}
	for _, dst := range pod.Routes {
		gw := PodGatewayIPv4
		if dst.Addr().Is6() {
			gw = PodGatewayIPv6
		}
		if (gw.Is4() && !pod.HasIPv4()) || (gw.Is6() && !pod.HasIPv6()) {
			errs = append(errs, fmt.Errorf("route %s: the pod has no address of its family", dst))
			continue
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: prefixNet(dst), Gw: gw.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}
		if err := h.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("add route %s via %s: %w", dst, gw, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configure %s in netns %s: %w", pod.InterfaceName, pod.Netns, err)
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
