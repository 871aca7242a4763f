package cniplugin

import (
	"fmt"
	"slices"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// checkPodInterface verifies that the pod's interface exists in its
// namespace and carries every address of the previous result.
func checkPodInterface(netnsPath, ifName string, prev *current.Result) error {
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return fmt.Errorf("netns %s: %w", netnsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", netnsPath, err)
	}
	defer h.Close()
	link, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("interface %s in %s: %w", ifName, netnsPath, err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("addresses of %s in %s: %w", ifName, netnsPath, err)
	}
	for _, ip := range prev.IPs {
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(ip.Address.IP) }) {
			return fmt.Errorf("interface %s in %s lacks address %s", ifName, netnsPath, ip.Address.IP)
		}
	}
	return nil
}
