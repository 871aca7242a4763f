package cni

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/calico-vpp/calico-vpp/test/topo"
)

func TestConfigurePodNetns(t *testing.T) {
	topo.RequirePrivileged(t)
	vppMAC, _ := net.ParseMAC("02:fe:00:00:00:01")
	cases := []struct {
		name       string
		link       func(t *testing.T, pod *topo.Netns) string // creates the pod interface, returns its name
		gatewayMAC net.HardwareAddr
		want       map[string][]string // command (in the pod netns) -> lines its output must contain
	}{
		{"tun, dual stack", func(t *testing.T, pod *topo.Netns) string {
			pod.Run(t, "ip", "tuntap", "add", "mode", "tun", "name", "eth0")
			return "eth0"
		}, nil, map[string][]string{
			"ip -4 addr show dev eth0": {"inet 198.18.100.2/32"},
			"ip -6 addr show dev eth0": {"inet6 2001:db8:100::2/128"},
			"ip -4 route":              {"default via 169.254.1.1 dev eth0 onlink"},
			"ip -6 route":              {"default via fe80::1:1 dev eth0"},
		}},
		{"veth with the gateway as a static neighbour", func(t *testing.T, pod *topo.Netns) string {
			other := topo.NewNetns(t, "vpp")
			name, _ := topo.Veth(t, pod, other)
			return name
		}, vppMAC, map[string][]string{
			"ip -4 route":    {"default via 169.254.1.1 dev", "onlink"},
			"ip -4 neigh":    {"169.254.1.1 dev", "lladdr 02:fe:00:00:00:01 PERMANENT"},
			"ip -6 neigh":    {"fe80::1:1 dev", "lladdr 02:fe:00:00:00:01 PERMANENT"},
			"ip -br -4 addr": {"198.18.100.2/32"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := topo.NewNetns(t, "pod")
			ifName := c.link(t, ns)
			pod := Pod{
				Key:       Key{Netns: ns.Path(), InterfaceName: ifName},
				Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.100.2/32"), netip.MustParsePrefix("2001:db8:100::2/128")},
				Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
			}
			// Twice: replaying a pod (agent restart) must change nothing.
			for range 2 {
				if err := ConfigurePodNetns(pod, c.gatewayMAC); err != nil {
					t.Fatal(err)
				}
			}
			for cmd, lines := range c.want {
				out := ns.Run(t, strings.Fields(cmd)...)
				for _, l := range lines {
					if !strings.Contains(out, l) {
						t.Errorf("%s:\n%s\nlacks %q", cmd, out, l)
					}
				}
			}
			if out := ns.Run(t, "ip", "-br", "link", "show", "dev", ifName); !strings.Contains(out, "UP") && !strings.Contains(out, "UNKNOWN") {
				t.Errorf("%s not up: %s", ifName, out)
			}
		})
	}
}

func TestConfigurePodNetnsErrors(t *testing.T) {
	topo.RequirePrivileged(t)
	ns := topo.NewNetns(t, "pod")
	cases := []struct {
		pod     Pod
		wantErr string
	}{
		{Pod{Key: Key{Netns: "/var/run/netns/cvp-absent", InterfaceName: "eth0"}}, "open netns /var/run/netns/cvp-absent"},
		{Pod{Key: Key{Netns: ns.Path(), InterfaceName: "eth0"}}, "find eth0 in netns " + ns.Path()},
	}
	for _, c := range cases {
		if err := ConfigurePodNetns(c.pod, nil); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("ConfigurePodNetns(%s) = %v, want %q", c.pod.Key, err, c.wantErr)
		}
	}
}
