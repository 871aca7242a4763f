package cni

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// PodLink is how a pod's interface reaches VPP: a tun or tap VPP creates
// in the pod's namespace (which needs the kernel's vhost-net), or a veth
// whose far end VPP attaches with AF_PACKET.
type PodLink interface {
	Kind() string
	// Create makes the pod's interface and VPP's side of it, tagged, up.
	// It returns VPP's interface and VPP's MAC on it (nil for a tun, which
	// has no link layer). On error it leaves nothing behind.
	Create(ctx context.Context, v *vpplink.VPP, pod Pod, mtu int, tag string) (vpplink.SwIfIndex, net.HardwareAddr, error)
	// Delete removes both sides of the pod interface id (PodID) that VPP
	// has as idx; what is already gone is not an error.
	Delete(ctx context.Context, v *vpplink.VPP, id string, idx vpplink.SwIfIndex) error
}

// LinkOfKind returns the link of a kind Kind() named, for pods recorded
// or dumped with it; gso enables GSO on VPP's taps and tuns.
func LinkOfKind(kind, vppNetns string, gso bool) (PodLink, error) {
	switch kind {
	case "tun":
		return vhostLink{tun: true, gso: gso}, nil
	case "tap":
		return vhostLink{gso: gso}, nil
	case "veth":
		return vethLink{vppNetns: vppNetns}, nil
	}
	return nil, fmt.Errorf("unknown pod link kind %q", kind)
}

// ChooseLink picks the pod's link: the spec's interconnect, where auto
// means VPP's tun/tap when the kernel has vhost-net, else a veth. vppNetns
// is VPP's network namespace (a name or a path), where veths end.
func ChooseLink(spec config.InterfaceSpec, vppNetns string) PodLink {
	l3 := spec.IsL3 == nil || *spec.IsL3
	switch spec.Interconnect {
	case config.InterconnectVeth:
		return vethLink{vppNetns: vppNetns}
	case config.InterconnectVhost:
		return vhostLink{tun: l3}
	}
	if _, err := os.Stat("/dev/vhost-net"); err != nil {
		return vethLink{vppNetns: vppNetns}
	}
	return vhostLink{tun: l3}
}

// vppMAC is VPP's MAC on a pod's L2 interface: stable per pod, so that a
// re-created interface keeps the pod's neighbour entry valid.
func vppMAC(k Key) net.HardwareAddr {
	sum := sha256.Sum256([]byte("vpp:" + k.String()))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

type vhostLink struct{ tun, gso bool }

func (l vhostLink) Kind() string {
	if l.tun {
		return "tun"
	}
	return "tap"
}

func (l vhostLink) Create(ctx context.Context, v *vpplink.VPP, pod Pod, mtu int, tag string) (vpplink.SwIfIndex, net.HardwareAddr, error) {
	t := vpplink.Tap{
		Tun: l.tun, HostNamespace: pod.Netns, HostIfName: pod.InterfaceName, HostMTU: uint32(mtu),
		NumRxQueues: uint16(pod.Spec.NumRxQueues), NumTxQueues: uint16(pod.Spec.NumTxQueues),
		RxRingSize: uint16(pod.Spec.RxQueueSize), TxRingSize: uint16(pod.Spec.TxQueueSize), Tag: tag, GSO: l.gso,
	}
	var mac net.HardwareAddr
	if !l.tun {
		mac = vppMAC(pod.Key)
		t.MAC, t.HostMAC = mac, ContainerMAC(pod.Key)
	}
	idx, err := v.CreateTap(ctx, t)
	if err != nil {
		return vpplink.InvalidSwIfIndex, nil, fmt.Errorf("create %s in %s: %w", l.Kind(), pod.Netns, err)
	}
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		return vpplink.InvalidSwIfIndex, nil, errors.Join(fmt.Errorf("set %s up: %w", l.Kind(), err), v.DeleteTap(ctx, idx))
	}
	return idx, mac, nil
}

func (l vhostLink) Delete(ctx context.Context, v *vpplink.VPP, id string, idx vpplink.SwIfIndex) error {
	if err := v.DeleteTap(ctx, idx); err != nil && !vpplink.IsRetval(err, vpplink.RetvalInvalidSwIfIndex) {
		return fmt.Errorf("delete %s of pod %s: %w", l.Kind(), id, err)
	}
	return nil
}

type vethLink struct{ vppNetns string }

func (vethLink) Kind() string { return "veth" }

// vppNetnsPath is VPP's namespace as a path (status files give a name).
func (l vethLink) vppNetnsPath() string {
	if l.vppNetns != "" && l.vppNetns[0] != '/' {
		return "/var/run/netns/" + l.vppNetns
	}
	return l.vppNetns
}

// farName is the veth's end in VPP's namespace (and VPP's host-<name>)
// for the pod interface id (PodID).
func farName(id string) string { return "cvp" + id[:10] } // 13 characters

func (l vethLink) handles(pod Pod) (vpp, podNS *netlink.Handle, podFd netns.NsHandle, err error) {
	vppPath := l.vppNetnsPath()
	vns, err := netns.GetFromPath(vppPath)
	if err != nil {
		return nil, nil, -1, fmt.Errorf("VPP's netns %s: %w", vppPath, err)
	}
	defer vns.Close()
	vpp, err = netlink.NewHandleAt(vns)
	if err != nil {
		return nil, nil, -1, fmt.Errorf("netlink in %s: %w", vppPath, err)
	}
	podFd, err = netns.GetFromPath(pod.Netns)
	if err != nil {
		vpp.Close()
		return nil, nil, -1, fmt.Errorf("pod netns %s: %w", pod.Netns, err)
	}
	podNS, err = netlink.NewHandleAt(podFd)
	if err != nil {
		vpp.Close()
		podFd.Close()
		return nil, nil, -1, fmt.Errorf("netlink in %s: %w", pod.Netns, err)
	}
	return vpp, podNS, podFd, nil
}

func (l vethLink) Create(ctx context.Context, v *vpplink.VPP, pod Pod, mtu int, tag string) (vpplink.SwIfIndex, net.HardwareAddr, error) {
	vh, ph, podFd, err := l.handles(pod)
	if err != nil {
		return vpplink.InvalidSwIfIndex, nil, err
	}
	defer vh.Close()
	defer ph.Close()
	defer podFd.Close()
	far := farName(PodID(pod.Key))
	if stale, err := vh.LinkByName(far); err == nil {
		// Left by a VPP that went away: the pod's end goes with it.
		if err := vh.LinkDel(stale); err != nil {
			return vpplink.InvalidSwIfIndex, nil, fmt.Errorf("remove stale veth %s of %s: %w", far, pod.Key, err)
		}
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: far, MTU: mtu}, PeerName: pod.InterfaceName,
		PeerNamespace: netlink.NsFd(podFd), PeerHardwareAddr: ContainerMAC(pod.Key)}
	if err := vh.LinkAdd(veth); err != nil {
		return vpplink.InvalidSwIfIndex, nil, fmt.Errorf("create veth %s/%s for %s: %w", far, pod.InterfaceName, pod.Key, err)
	}
	undo := func(cause error) (vpplink.SwIfIndex, net.HardwareAddr, error) {
		if l, err := vh.LinkByName(far); err == nil {
			cause = errors.Join(cause, vh.LinkDel(l))
		}
		return vpplink.InvalidSwIfIndex, nil, cause
	}
	if peer, err := ph.LinkByName(pod.InterfaceName); err != nil {
		return undo(fmt.Errorf("find %s in %s: %w", pod.InterfaceName, pod.Netns, err))
	} else if err := ph.LinkSetMTU(peer, mtu); err != nil {
		return undo(fmt.Errorf("set MTU of %s: %w", pod.InterfaceName, err))
	}
	if err := vh.LinkSetUp(veth); err != nil {
		return undo(fmt.Errorf("set %s up: %w", far, err))
	}
	mac := vppMAC(pod.Key)
	idx, err := v.CreateAFPacket(ctx, vpplink.AFPacket{HostIfName: far, MAC: mac,
		NumRxQueues: uint16(pod.Spec.NumRxQueues), NumTxQueues: uint16(pod.Spec.NumTxQueues)})
	if err != nil {
		return undo(fmt.Errorf("attach VPP to %s: %w", far, err))
	}
	if err := errors.Join(v.SetInterfaceTag(ctx, idx, tag), v.SetInterfaceUp(ctx, idx, true)); err != nil {
		return undo(errors.Join(fmt.Errorf("tag and enable host-%s: %w", far, err), v.DeleteAFPacket(ctx, far)))
	}
	return idx, mac, nil
}

func (l vethLink) Delete(ctx context.Context, v *vpplink.VPP, id string, _ vpplink.SwIfIndex) error {
	far := farName(id)
	var errs []error
	if err := v.DeleteAFPacket(ctx, far); err != nil && !vpplink.IsRetval(err, vpplink.RetvalSyscallError1) { // VPP: no such host interface
		errs = append(errs, fmt.Errorf("detach VPP from %s: %w", far, err))
	}
	if vns, err := netns.GetFromPath(l.vppNetnsPath()); err == nil {
		defer vns.Close()
		if h, err := netlink.NewHandleAt(vns); err == nil {
			defer h.Close()
			if link, err := h.LinkByName(far); err == nil {
				if err := h.LinkDel(link); err != nil {
					errs = append(errs, fmt.Errorf("delete veth %s: %w", far, err))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete veth of pod %s: %w", id, err)
	}
	return nil
}
