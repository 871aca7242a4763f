package fakevpp_test

// Behaviour the contract suite cannot check against any VPP (PCI devices,
// hidden messages) or checks only through the socket: here against the
// in-process engine, through the VPP layer.

import (
	"context"
	"errors"
	"golang.org/x/sync/errgroup"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/fakevpp"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustRetval(t *testing.T, err error, want vpplink.Retval) {
	t.Helper()
	if !vpplink.IsRetval(err, want) {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestPCIDrivers(t *testing.T) {
	v, _ := vpptest.InProcess(t, nil, fakevpp.Options{})
	c := ctx(t)
	pci, _ := vpplink.ParsePCIAddress("0000:3b:02.0")
	avf, err := v.CreateAVF(c, vpplink.AVF{PCI: pci, RxQueueSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, avf); i.Name != "avf-0/3b/2/0" || i.MAC == nil {
		t.Errorf("avf interface = %+v", i)
	}
	_, err = v.CreateAVF(c, vpplink.AVF{PCI: pci})
	mustRetval(t, err, -105)
	_, err = v.CreateAVF(c, vpplink.AVF{PCI: vpplink.PCIAddress{Bus: 1}, RxQueueSize: 100})
	mustRetval(t, err, vpplink.RetvalInvalidValue)
	if err := v.DeleteAVF(c, avf); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteAVF(c, avf), vpplink.RetvalInvalidInterface)

	vpci, _ := vpplink.ParsePCIAddress("0000:00:04.0")
	vio, err := v.CreateVirtio(c, vpplink.VirtioPCI{PCI: vpci, MAC: net.HardwareAddr{2, 0, 0, 0, 4, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, vio); i.Name != "virtio-0/0/4/0" || i.MAC.String() != "02:00:00:00:04:00" {
		t.Errorf("virtio interface = %+v", i)
	}
	if vio != avf {
		t.Errorf("virtio got sw_if_index %d, want the freed %d (LIFO reuse)", vio, avf)
	}
	if err := v.DeleteVirtio(c, vio); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteVirtio(c, vio), vpplink.RetvalInvalidSwIfIndex)
	if _, err := vpplink.ParsePCIAddress("00:04.0"); err == nil {
		t.Error("short PCI address accepted")
	}
}

func TestAFXDPNeedsHostInterface(t *testing.T) {
	host := fakevpp.NewMemHost("eth1")
	v, _ := vpptest.InProcess(t, host, fakevpp.Options{})
	c := ctx(t)
	_, err := v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth9"})
	mustRetval(t, err, vpplink.RetvalInvalidValue)
	_, err = v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth1", RxQueueSize: 100})
	mustRetval(t, err, vpplink.RetvalInvalidValue)
	idx, err := v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth1", NumRxQueues: 2, RxQueueSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, idx); i.Name != "eth1/0" || i.DevType != "AF_XDP interface" {
		t.Errorf("af_xdp interface = %+v", i)
	}
	if err := v.DeleteAFXDP(c, idx); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DeleteAFXDP(c, idx), vpplink.RetvalInvalidInterface)
}

func TestTapIDsAndNames(t *testing.T) {
	host := fakevpp.NewMemHost()
	v, _ := vpptest.InProcess(t, host, fakevpp.Options{})
	c := ctx(t)
	a, err := v.CreateTap(c, vpplink.Tap{HostNamespace: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.CreateTap(c, vpplink.Tap{Tun: true, HostNamespace: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	taps, _ := v.Taps(c)
	if len(taps) != 2 || taps[0].DevName != "tap0" || taps[0].HostIfName != "tap0" || taps[1].DevName != "tun1" || taps[1].HostIfName != "tun0" {
		t.Fatalf("taps = %+v", taps)
	}
	// Ids are the lowest free: deleting tap0 makes the next one tap0 again.
	if err := v.DeleteTap(c, a); err != nil {
		t.Fatal(err)
	}
	id := uint32(7)
	if _, err := v.CreateTap(c, vpplink.Tap{ID: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = v.CreateTap(c, vpplink.Tap{ID: &id})
	mustRetval(t, err, vpplink.RetvalInvalidInterface)
	c2, err := v.CreateTap(c, vpplink.Tap{})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, c2); i.Name != "tap0" {
		t.Errorf("reused id gives %q, want tap0", i.Name)
	}
	_, err = v.CreateTap(c, vpplink.Tap{RxRingSize: 1000})
	mustRetval(t, err, -144)
	if err := v.DeleteTap(c, b); err != nil {
		t.Fatal(err)
	}
	if len(host.Devices()) != 2 {
		t.Errorf("host devices = %v, want the two live taps", host.Devices())
	}
}

func TestInterfaceOddities(t *testing.T) {
	v, _ := vpptest.InProcess(t, nil, fakevpp.Options{})
	c := ctx(t)
	tun, err := v.CreateIPIPTunnel(c, vpplink.IPIPTunnel{Src: netipAddr("198.18.0.1"), Dst: netipAddr("198.18.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	// No address on local0.
	mustRetval(t, v.AddInterfaceAddress(c, 0, netipPrefix("192.0.2.1/24")), -126)
	// rx mode on an interface without rx queues: accepted, nothing to do.
	if err := v.SetRxMode(c, tun, vpplink.RxModeInterrupt); err != nil {
		t.Errorf("rx mode on a tunnel: %v", err)
	}
	// ip6 enable twice is VALUE_EXIST; disable when disabled IP6_NOT_ENABLED.
	if err := v.EnableIP6(c, tun, true); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.EnableIP6(c, tun, true), vpplink.RetvalValueExist)
	if err := v.EnableIP6(c, tun, false); err != nil {
		t.Fatal(err)
	}
	if err := v.EnableIP6(c, tun, false); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.EnableIP6(c, tun, false), -62)
	// Unnumbered: the borrower reports no addresses of its own.
	other, err := v.CreateIPIPTunnel(c, vpplink.IPIPTunnel{Src: netipAddr("198.18.0.1"), Dst: netipAddr("198.18.0.3")})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.AddInterfaceAddress(c, tun, netipPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := v.SetUnnumbered(c, other, tun, true); err != nil {
		t.Fatal(err)
	}
	if addrs, _ := v.InterfaceAddresses(c, other, false); len(addrs) != 0 {
		t.Errorf("unnumbered interface reports %v", addrs)
	}
	mustRetval(t, v.SetUnnumbered(c, other, 99, true), vpplink.RetvalInvalidSwIfIndex2)
	if err := v.SetUnnumbered(c, other, tun, false); err != nil {
		t.Fatal(err)
	}
	// Deleting an interface takes its addresses and tag with it.
	if err := v.DeleteIPIPTunnel(c, tun); err != nil {
		t.Fatal(err)
	}
	if addrs, _ := v.InterfaceAddresses(c, tun, false); len(addrs) != 0 {
		t.Errorf("deleted interface still has %v", addrs)
	}
}

func TestConnectRefusesIncompatibleVPP(t *testing.T) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	engine, err := fakevpp.NewEngine(quiet.WithField("c", "fakevpp"), fakevpp.NewMemHost(), fakevpp.Options{HiddenMessages: []string{"cnat_translation_update_f8d40bc5"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vpplink.NewWithAdapter(ctx(t), fakevpp.NewAdapter(engine), quiet.WithField("c", "test"))
	var compat *vpplink.CompatibilityError
	if !errors.As(err, &compat) || len(compat.Incompatible) != 1 || compat.Incompatible[0] != "cnat_translation_update_f8d40bc5" {
		t.Fatalf("err = %v, want a CompatibilityError naming cnat_translation_update", err)
	}
}

func TestConnectWaitsForVPP(t *testing.T) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	engine, err := fakevpp.NewEngine(quiet.WithField("c", "fakevpp"), fakevpp.NewMemHost(), fakevpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	socket := t.TempDir() + "/api.sock"
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	type result struct {
		v   *vpplink.VPP
		err error
	}
	connected := make(chan result, 1)
	var g errgroup.Group
	defer func() { _ = g.Wait() }()
	g.Go(func() error {
		v, err := vpplink.Connect(c, socket, quiet.WithField("c", "test"), vpplink.ConnectOptions{RetryInterval: 20 * time.Millisecond})
		connected <- result{v, err}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // VPP starts late
	served := make(chan error, 1)
	g.Go(func() error {
		served <- fakevpp.NewServer(engine, socket, quiet.WithField("c", "server")).Serve(c)
		return nil
	})
	r := <-connected
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	if _, err := r.v.Version(c); err != nil {
		t.Fatal(err)
	}
	r.v.Close()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func netipAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestConnectRefusesOtherRelease(t *testing.T) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	engine, err := fakevpp.NewEngine(quiet.WithField("c", "fakevpp"), fakevpp.NewMemHost(), fakevpp.Options{Version: "24.10-release"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vpplink.NewWithAdapter(ctx(t), fakevpp.NewAdapter(engine), quiet.WithField("c", "test"))
	var compat *vpplink.CompatibilityError
	if !errors.As(err, &compat) || compat.Version != "24.10-release" {
		t.Fatalf("err = %v, want a CompatibilityError for 24.10", err)
	}
}

// Behaviours found by comparing fakevpp with VPP 25.10's source.
func TestVPPQuirks(t *testing.T) {
	v, _ := vpptest.InProcess(t, fakevpp.NewMemHost("eth1"), fakevpp.Options{})
	c := ctx(t)
	lo, err := v.CreateLoopback(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.AddInterfaceAddress(c, lo, netipPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	// Re-binding the current table is refused while addresses exist.
	mustRetval(t, v.SetInterfaceTable(c, lo, false, 0), vpplink.RetvalAddressFoundForIf)
	// An unknown feature is INVALID_VALUE.
	mustRetval(t, v.EnableFeature(c, lo, "ip4-unicast", "no-such-node", true), vpplink.RetvalInvalidValue)
	// Link-local addresses: /128 only, and not listed.
	mustRetval(t, v.AddInterfaceAddress(c, lo, netipPrefix("fe80::1/64")), -59)
	if err := v.AddInterfaceAddress(c, lo, netipPrefix("fe80::1/128")); err != nil {
		t.Fatal(err)
	}
	if a6, _ := v.InterfaceAddresses(c, lo, true); len(a6) != 0 {
		t.Errorf("link-local listed: %v", a6)
	}
	// del_all keeps an explicit ip6 enable.
	if err := v.EnableIP6(c, lo, true); err != nil {
		t.Fatal(err)
	}
	if err := v.AddInterfaceAddress(c, lo, netipPrefix("2001:db8::1/64")); err != nil {
		t.Fatal(err)
	}
	if err := v.DelAllInterfaceAddresses(c, lo); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.EnableIP6(c, lo, true), vpplink.RetvalValueExist)
	// Address replace: a stale address may be re-added, even with another length.
	if err := v.AddInterfaceAddress(c, lo, netipPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := v.ReplaceAddressesBegin(c); err != nil {
		t.Fatal(err)
	}
	if err := v.AddInterfaceAddress(c, lo, netipPrefix("192.0.2.1/25")); err != nil {
		t.Errorf("re-adding a stale address with another length: %v", err)
	}
	if err := v.ReplaceAddressesEnd(c); err != nil {
		t.Fatal(err)
	}
	if a4, _ := v.InterfaceAddresses(c, lo, false); len(a4) != 1 || a4[0] != netipPrefix("192.0.2.1/24") {
		t.Errorf("after replace: %v, want the old 192.0.2.1/24", a4)
	}
	// Paths come back sorted by next hop, whatever the order given.
	if err := v.SetInterfaceUp(c, lo, true); err != nil {
		t.Fatal(err)
	}
	p := netipPrefix("203.0.113.0/24")
	for _, gw := range []string{"192.0.2.20", "192.0.2.10"} {
		if err := v.AddRoutePath(c, 0, p, vpplink.RoutePath{Gateway: netipAddr(gw), SwIfIndex: lo}); err != nil {
			t.Fatal(err)
		}
	}
	routes, _ := v.Routes(c, vpplink.Table{})
	for _, r := range routes {
		if r.Prefix == p && (len(r.Paths) != 2 || r.Paths[0].Gateway != netipAddr("192.0.2.10")) {
			t.Errorf("ECMP route paths = %v, want sorted", r.Paths)
		}
		// Two addresses of one subnet give one glean path, not two.
		if r.Prefix == netipPrefix("192.0.2.0/24") && len(r.Paths) != 1 {
			t.Errorf("glean paths = %v", r.Paths)
		}
	}
	// A path delete with a bad interface is refused.
	mustRetval(t, v.DelRoutePath(c, 0, p, vpplink.RoutePath{Gateway: netipAddr("192.0.2.10"), SwIfIndex: 999}), -54)
	// Exclude prefixes are a set: add, add, del, del gives 0, +1.
	for range 2 {
		if err := v.AddSNATExcludePrefix(c, netipPrefix("198.18.0.0/16")); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.DelSNATExcludePrefix(c, netipPrefix("198.18.0.0/16")); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, v.DelSNATExcludePrefix(c, netipPrefix("198.18.0.0/16")), 1)
	// cnat accepts any protocol VPP knows (GRE here).
	if _, err := v.UpdateTranslation(c, vpplink.Translation{VIP: vpplink.Endpoint{Addr: netipAddr("198.19.0.1")}, Proto: 47,
		Backends: []vpplink.Backend{{Dst: vpplink.Endpoint{Addr: netipAddr("198.18.0.5")}}}}); err != nil {
		t.Errorf("GRE translation: %v", err)
	}
	// VXLAN: ~0 decap next is l2-input (1); IPv6 tunnels are keyed without source.
	if _, err := v.CreateVXLANTunnel(c, vpplink.VXLANTunnel{Src: netipAddr("2001:db8::1"), Dst: netipAddr("2001:db8::2"), VNI: 7}); err != nil {
		t.Fatal(err)
	}
	_, err = v.CreateVXLANTunnel(c, vpplink.VXLANTunnel{Src: netipAddr("2001:db8::3"), Dst: netipAddr("2001:db8::2"), VNI: 7})
	mustRetval(t, err, vpplink.RetvalTunnelExist)
	if vx, _ := v.VXLANTunnels(c); len(vx) != 1 || vx[0].DecapNextIndex != 1 || vx[0].Src != netipAddr("2001:db8::1") {
		t.Errorf("vxlan dump = %+v", vx)
	}
	// AF_XDP names follow the device pool: a freed instance is reused.
	a, _ := v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth1"})
	if err := v.DeleteAFXDP(c, a); err != nil {
		t.Fatal(err)
	}
	b, _ := v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth1"})
	bb, _ := v.CreateAFXDP(c, vpplink.AFXDP{HostIfName: "eth1"})
	ib, _ := v.Interface(c, b)
	ibb, _ := v.Interface(c, bb)
	if ib.Name != "eth1/0" || ibb.Name != "eth1/1" {
		t.Errorf("af_xdp names %q %q, want eth1/0 eth1/1", ib.Name, ibb.Name)
	}
	// tap_delete_v2 on a virtio-pci interface is INVALID_INTERFACE.
	pci, _ := vpplink.ParsePCIAddress("0000:00:06.0")
	vio, err := v.CreateVirtio(c, vpplink.VirtioPCI{PCI: pci})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, vio); i.MAC == nil {
		t.Error("virtio without a MAC got none (the device's own is kept)")
	}
	mustRetval(t, v.DeleteTap(c, vio), vpplink.RetvalInvalidInterface)
}

func TestNoVhostNetBeforeRingCheck(t *testing.T) {
	v, _ := vpptest.InProcess(t, nil, fakevpp.Options{NoVhostNet: true})
	_, err := v.CreateTap(ctx(t), vpplink.Tap{RxRingSize: 1000})
	mustRetval(t, err, vpplink.RetvalSyscallError1)
}

func TestHardwareMTUAndTags(t *testing.T) {
	v, _ := vpptest.InProcess(t, nil, fakevpp.Options{})
	c := ctx(t)
	lo, err := v.CreateLoopback(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetHardwareMTU(c, lo, 1500); err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, lo); i.LinkMTU != 1500 || i.MTU != 1500 {
		t.Errorf("after hw mtu: link %d l3 %d", i.LinkMTU, i.MTU)
	}
	tun, err := v.CreateIPIPTunnel(c, vpplink.IPIPTunnel{Src: netipAddr("198.18.0.1"), Dst: netipAddr("198.18.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	// Not an ethernet interface: FEATURE_DISABLED.
	mustRetval(t, v.SetHardwareMTU(c, tun, 1500), -30)
	mustRetval(t, v.SetHardwareMTU(c, 99, 1500), vpplink.RetvalInvalidSwIfIndex)
	tag := strings.Repeat("t", 63)
	if err := v.SetInterfaceTag(c, lo, tag); err != nil {
		t.Fatal(err)
	}
	if i, _ := v.Interface(c, lo); i.Tag != tag {
		t.Errorf("63-byte tag came back as %q", i.Tag)
	}
	mustRetval(t, v.SetInterfaceTag(c, 99, "x"), vpplink.RetvalInvalidSwIfIndex)
	// Table binding errors.
	mustRetval(t, v.SetInterfaceTable(c, lo, true, 5), vpplink.RetvalNoSuchFib)
	mustRetval(t, v.SetUnnumbered(c, 99, lo, true), vpplink.RetvalInvalidSwIfIndex)
	if err := v.AddTable(c, vpplink.Table{ID: 5}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetInterfaceTable(c, tun, false, 5); err != nil {
		t.Fatal(err)
	}
	// Donor and borrower in different VRFs.
	mustRetval(t, v.SetUnnumbered(c, tun, lo, true), -74)
}
