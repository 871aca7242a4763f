package cni

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// Each pod link kind against VPP (fakevpp, or VPP_BINARY): the pod gets
// its interface in its namespace, VPP a tagged interface that is up, the
// pod's configuration works on it, and Delete leaves nothing, twice.
func TestPodLinks(t *testing.T) {
	topo.RequirePrivileged(t)
	l3, l2 := true, false
	cases := []struct {
		name         string
		interconnect config.Interconnect
		isL3         *bool
		noVhostNet   bool
		wantKind     string
		wantType     string // in `ip -d link`
	}{
		{"tun", config.InterconnectVhost, &l3, false, "tun", "tun"},
		{"tap", config.InterconnectVhost, &l2, false, "tap", "tun"}, // a tap is a tun device in tap mode
		{"veth", config.InterconnectVeth, &l3, true, "veth", "veth"},
		{"auto without vhost-net", config.InterconnectAuto, &l3, true, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.wantKind != "veth" && c.interconnect != config.InterconnectAuto && vpptest.RealVPP() {
				if _, err := os.Stat("/dev/vhost-net"); err != nil {
					t.Skip("a real VPP cannot create taps/tuns without /dev/vhost-net")
				}
			}
			inst := vpptest.Start(t, vpptest.Options{NoVhostNet: c.noVhostNet})
			link := ChooseLink(config.InterfaceSpec{IsL3: c.isL3, Interconnect: c.interconnect, NumRxQueues: 1, NumTxQueues: 1}, inst.Netns.Name)
			if c.interconnect == config.InterconnectAuto {
				want := "veth"
				if _, err := os.Stat("/dev/vhost-net"); err == nil {
					want = "tun"
				}
				if link.Kind() != want {
					t.Fatalf("auto chose %s, want %s on this machine", link.Kind(), want)
				}
				if want != "veth" {
					return // exercised by the tun case
				}
				c.wantKind, c.wantType = "veth", "veth"
			}
			if link.Kind() != c.wantKind {
				t.Fatalf("kind = %s, want %s", link.Kind(), c.wantKind)
			}
			ns := topo.NewNetns(t, "pod")
			pod := Pod{
				Key:       Key{Netns: ns.Path(), InterfaceName: "eth0"},
				Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.100.2/32")},
				Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
				Spec:      config.InterfaceSpec{NumRxQueues: 1, NumTxQueues: 1},
			}
			ctx := context.Background()
			tag := "cvpp-pod:test"
			idx, mac, err := link.Create(ctx, inst.VPP, pod, 1400, tag)
			if err != nil {
				t.Fatal(err)
			}
			if (mac == nil) != (c.wantKind == "tun") {
				t.Errorf("VPP MAC = %v for a %s", mac, c.wantKind)
			}
			if err := ConfigurePodNetns(pod, mac); err != nil {
				t.Fatal(err)
			}
			out := ns.Run(t, "ip", "-d", "link", "show", "dev", "eth0")
			if !strings.Contains(out, "mtu 1400") || !strings.Contains(out, c.wantType) {
				t.Errorf("pod eth0:\n%s\nwant a %s with mtu 1400", out, c.wantType)
			}
			vif, found, err := inst.VPP.InterfaceByTag(ctx, tag)
			if err != nil || !found || vif.SwIfIndex != idx || !vif.AdminUp {
				t.Errorf("VPP interface by tag = %+v, %v, %v; want sw_if_index %d, up", vif, found, err, idx)
			}

			for range 2 { // deleting what is gone is fine
				if err := link.Delete(ctx, inst.VPP, PodID(pod.Key), idx); err != nil {
					t.Fatal(err)
				}
			}
			if _, found, _ := inst.VPP.InterfaceByTag(ctx, tag); found {
				t.Error("VPP interface left after Delete")
			}
			if out, err := ns.Output("ip", "link", "show", "dev", "eth0"); err == nil {
				t.Errorf("pod eth0 left after Delete:\n%s", out)
			}
			if out := inst.Netns.Run(t, "ip", "-br", "link"); strings.Contains(out, "cvp") {
				t.Errorf("veth end left in VPP's netns:\n%s", out)
			}
		})
	}
}

// A failure half-way leaves nothing: the pod's netns vanished before the
// veth could be made.
func TestPodLinkFailureLeavesNothing(t *testing.T) {
	topo.RequirePrivileged(t)
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: true})
	link := vethLink{vppNetns: inst.Netns.Name}
	pod := Pod{Key: Key{Netns: "/var/run/netns/cvp-absent-pod", InterfaceName: "eth0"}, Spec: config.InterfaceSpec{NumRxQueues: 1, NumTxQueues: 1}}
	if _, _, err := link.Create(context.Background(), inst.VPP, pod, 1400, "cvpp-pod:x"); err == nil || !strings.Contains(err.Error(), "cvp-absent-pod") {
		t.Errorf("Create = %v, want an error naming the netns", err)
	}
	ifs, err := inst.VPP.Interfaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Tag == "cvpp-pod:x" || strings.HasPrefix(i.Name, "host-cvp") {
			t.Errorf("VPP interface left: %+v", i)
		}
	}
}
