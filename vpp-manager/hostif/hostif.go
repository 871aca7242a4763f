// Package hostif creates the host's interface to VPP (vpptap0): a tap VPP
// creates in the host namespace when the kernel has vhost-net, otherwise a
// veth pair whose other end sits in VPP's namespace and is attached to VPP
// as an AF_PACKET interface.
package hostif

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Tag marks the host interface in VPP; vpp-manager owns it.
const Tag = "calico-vpp:host-tap"

// VhostNetPath is the device VPP's tap/tun need.
const VhostNetPath = "/dev/vhost-net"

// ChooseMode resolves the configured interconnect: auto picks vhost when
// /dev/vhost-net exists. It says why, for the log.
func ChooseMode(configured config.Interconnect, statVhost func(string) error) (config.Interconnect, string) {
	switch configured {
	case config.InterconnectVhost:
		return config.InterconnectVhost, "configured (vppHostTapSpec.interconnect=vhost)"
	case config.InterconnectVeth:
		return config.InterconnectVeth, "configured (vppHostTapSpec.interconnect=veth)"
	}
	if err := statVhost(VhostNetPath); err != nil {
		return config.InterconnectVeth, fmt.Sprintf("%s is not available (%v): VPP cannot create taps, using a veth pair with AF_PACKET", VhostNetPath, err)
	}
	return config.InterconnectVhost, VhostNetPath + " is available: using a VPP tap"
}

// Params describe the host interface to create.
type Params struct {
	Mode     config.Interconnect
	Name     string // vpptap0
	MAC      string // the uplink's, so the host keeps its MAC
	MTU      int
	Spec     config.InterfaceSpec
	HostNS   netns.NsHandle
	Host     *netlink.Handle
	VPPNS    netns.NsHandle
	HostPath string // the host namespace as VPP's tap_create_v3 takes it
}

// PeerName is the VPP-side veth's name for the host interface name.
func PeerName(name string) string {
	peer := name + "-vpp"
	if len(peer) <= 15 {
		return peer
	}
	sum := sha256.Sum256([]byte(name))
	return "vpph" + hex.EncodeToString(sum[:])[:11]
}

// Create makes the host interface and returns VPP's side of it, tagged,
// up, in the mode's rx mode.
func Create(ctx context.Context, v *vpplink.VPP, p Params) (vpplink.SwIfIndex, error) {
	var (
		idx vpplink.SwIfIndex
		err error
	)
	switch p.Mode {
	case config.InterconnectVhost:
		idx, err = createTap(ctx, v, p)
	case config.InterconnectVeth:
		idx, err = createVeth(ctx, v, p)
	default:
		return vpplink.InvalidSwIfIndex, fmt.Errorf("host interface mode %q", p.Mode)
	}
	if err != nil {
		return idx, err
	}
	if err := v.SetInterfaceTag(ctx, idx, Tag); err != nil {
		return idx, err
	}
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		return idx, err
	}
	return idx, nil
}

func createTap(ctx context.Context, v *vpplink.VPP, p Params) (vpplink.SwIfIndex, error) {
	mac, _ := parseMAC(p.MAC)
	return v.CreateTap(ctx, vpplink.Tap{
		HostNamespace: p.HostPath, HostIfName: p.Name, HostMAC: mac, HostMTU: uint32(p.MTU),
		NumRxQueues: uint16(p.Spec.NumRxQueues), NumTxQueues: uint16(p.Spec.NumTxQueues),
		RxRingSize: uint16(p.Spec.RxQueueSize), TxRingSize: uint16(p.Spec.TxQueueSize), Tag: Tag,
	})
}

func createVeth(ctx context.Context, v *vpplink.VPP, p Params) (vpplink.SwIfIndex, error) {
	peer := PeerName(p.Name)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p.Name, MTU: p.MTU}, PeerName: peer, PeerNamespace: netlink.NsFd(int(p.VPPNS))}
	if mac, err := parseMAC(p.MAC); err == nil && mac != nil {
		veth.LinkAttrs.HardwareAddr = mac
	}
	if err := p.Host.LinkAdd(veth); err != nil {
		return vpplink.InvalidSwIfIndex, fmt.Errorf("create veth %s/%s: %w", p.Name, peer, err)
	}
	vh, err := nsutil.Handle(p.VPPNS)
	if err != nil {
		return vpplink.InvalidSwIfIndex, err
	}
	defer vh.Close()
	pl, err := vh.LinkByName(peer)
	if err != nil {
		return vpplink.InvalidSwIfIndex, fmt.Errorf("find %s in VPP's netns: %w", peer, err)
	}
	if err := vh.LinkSetMTU(pl, p.MTU); err != nil {
		return vpplink.InvalidSwIfIndex, fmt.Errorf("set mtu of %s: %w", peer, err)
	}
	if err := vh.LinkSetUp(pl); err != nil {
		return vpplink.InvalidSwIfIndex, fmt.Errorf("set %s up: %w", peer, err)
	}
	idx, err := v.CreateAFPacket(ctx, vpplink.AFPacket{HostIfName: peer, NumRxQueues: 1, NumTxQueues: 1, QdiscBypass: true})
	if err != nil {
		return idx, err
	}
	// Interrupt mode: the host's traffic is light and polling would burn a core.
	if err := v.SetRxMode(ctx, idx, vpplink.RxModeInterrupt); err != nil {
		return idx, err
	}
	return idx, nil
}

// Remove deletes what Create left in Linux once VPP is gone: the host end
// of a veth (a VPP tap vanishes with VPP). A missing interface is fine.
func Remove(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// StatVhostNet checks /dev/vhost-net on this machine.
func StatVhostNet(path string) error {
	_, err := os.Stat(path)
	return err
}

func parseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}
