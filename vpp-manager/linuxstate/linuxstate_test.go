package linuxstate

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/calico-vpp/calico-vpp/test/topo"
)

func handleIn(t *testing.T, ns *topo.Netns) *netlink.Handle {
	t.Helper()
	fd, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fd.Close() })
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// uplinkNode builds a node namespace whose uplink has the given setup.
func uplinkNode(t *testing.T, setup [][]string) (*topo.Netns, string) {
	t.Helper()
	node := topo.NewNetns(t, "node")
	router := topo.NewNetns(t, "rtr")
	uplink, _ := topo.Veth(t, node, router)
	for _, cmd := range setup {
		args := make([]string, len(cmd))
		for i, a := range cmd {
			if a == "UPLINK" {
				a = uplink
			}
			args[i] = a
		}
		node.Run(t, args...)
	}
	return node, uplink
}

func TestCaptureSaveRestore(t *testing.T) {
	cases := []struct {
		name  string
		setup [][]string
		check func(t *testing.T, u *Uplink)
	}{
		{"dual stack with extra routes", [][]string{
			{"ip", "link", "set", "UPLINK", "mtu", "1400"},
			{"ip", "addr", "add", "198.18.0.2/24", "dev", "UPLINK"},
			{"ip", "addr", "add", "198.18.5.2/24", "dev", "UPLINK"},
			{"ip", "addr", "add", "2001:db8::2/64", "dev", "UPLINK", "nodad"},
			{"ip", "route", "add", "default", "via", "198.18.0.1"},
			{"ip", "route", "add", "203.0.113.0/24", "via", "198.18.0.1", "metric", "50"},
			{"ip", "-6", "route", "add", "default", "via", "2001:db8::1"},
		}, func(t *testing.T, u *Uplink) {
			if len(u.Addresses) != 3 || len(u.Routes) != 3 || u.MTU != 1400 || !u.HasIPv4() || !u.HasIPv6() {
				t.Errorf("captured %+v", u)
			}
		}},
		{"ipv4 only", [][]string{
			{"ip", "addr", "add", "198.18.0.2/24", "dev", "UPLINK"},
			{"ip", "route", "add", "default", "via", "198.18.0.1"},
		}, func(t *testing.T, u *Uplink) {
			if len(u.Addresses) != 1 || len(u.Routes) != 1 || u.HasIPv6() {
				t.Errorf("captured %+v", u)
			}
		}},
		{"address flags", [][]string{
			{"ip", "addr", "add", "198.18.0.2/24", "dev", "UPLINK", "noprefixroute"},
			{"ip", "addr", "add", "2001:db8::2/64", "dev", "UPLINK"},
		}, func(t *testing.T, u *Uplink) {
			if len(u.Addresses) != 2 || u.Addresses[0].Flags&unix.IFA_F_NOPREFIXROUTE == 0 {
				t.Errorf("captured %+v", u)
			}
		}},
		{"ecmp routes", [][]string{
			{"ip", "addr", "add", "198.18.0.2/24", "dev", "UPLINK"},
			{"ip", "addr", "add", "2001:db8::2/64", "dev", "UPLINK", "nodad"},
			{"ip", "link", "add", "second", "type", "veth", "peer", "name", "second-peer"},
			{"ip", "link", "set", "second-peer", "up"},
			{"ip", "link", "set", "second", "up"},
			{"ip", "addr", "add", "192.0.2.1/24", "dev", "second"},
			{"ip", "route", "add", "198.51.100.0/24", "nexthop", "via", "198.18.0.1", "weight", "2", "nexthop", "via", "198.18.0.3"},
			{"ip", "route", "add", "203.0.113.0/24", "nexthop", "via", "198.18.0.1", "nexthop", "via", "192.0.2.2", "dev", "second"},
			{"ip", "-6", "route", "add", "2001:db8:1::/64", "nexthop", "via", "2001:db8::1", "nexthop", "via", "2001:db8::3"},
			{"ip", "route", "add", "198.18.200.0/24", "via", "192.0.2.2"}, // not through the uplink
		}, func(t *testing.T, u *Uplink) {
			want := map[string]string{
				"198.51.100.0/24": "198.51.100.0/24 nexthop via 198.18.0.1 weight 2 nexthop via 198.18.0.3",
				"203.0.113.0/24":  "203.0.113.0/24 nexthop via 198.18.0.1 nexthop via 192.0.2.2 dev second",
				"2001:db8:1::/64": "2001:db8:1::/64 nexthop via 2001:db8::1 nexthop via 2001:db8::3",
			}
			if len(u.Routes) != len(want) {
				t.Errorf("captured routes %v, want %d", u.Routes, len(want))
			}
			for _, r := range u.Routes {
				if got := r.String(); got != want[r.Dst.String()] {
					t.Errorf("captured %q, want %q", got, want[r.Dst.String()])
				}
			}
		}},
		{"ipv6 only", [][]string{
			{"ip", "addr", "add", "2001:db8::2/64", "dev", "UPLINK", "nodad"},
			{"ip", "-6", "route", "add", "default", "via", "2001:db8::1"},
		}, func(t *testing.T, u *Uplink) {
			if len(u.Addresses) != 1 || len(u.Routes) != 1 || u.HasIPv4() {
				t.Errorf("captured %+v", u)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node, uplink := uplinkNode(t, c.setup)
			h := handleIn(t, node)
			before, err := Capture(h, nil, uplink)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, before)

			path := filepath.Join(t.TempDir(), "state", "uplink.json")
			if err := Save(path, []Uplink{*before}); err != nil {
				t.Fatal(err)
			}
			loaded, found, err := Load(path)
			if err != nil || !found || !reflect.DeepEqual(loaded[0], *before) {
				t.Fatalf("loaded %+v (found %v, err %v), want %+v", loaded, found, err, before)
			}

			// What VPP's takeover does to the link: addresses and routes
			// gone, promiscuous, another MTU and MAC, down.
			node.Run(t, "ip", "addr", "flush", "dev", uplink)
			node.Run(t, "ip", "link", "set", uplink, "promisc", "on", "mtu", "9000", "address", "02:00:00:00:00:99")
			node.Run(t, "ip", "link", "set", uplink, "down")
			node.Run(t, "ip", "addr", "add", "192.0.2.77/24", "dev", uplink)

			if err := Restore(h, &loaded[0]); err != nil {
				t.Fatal(err)
			}
			after, err := Capture(h, nil, uplink)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("after restore:\n%+v\nwant\n%+v", after, before)
			}
		})
	}
}

func TestLoadMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, found, err := Load(filepath.Join(dir, "none.json")); found || err != nil {
		t.Errorf("missing file: found=%v err=%v", found, err)
	}
	bad := filepath.Join(dir, "bad.json")
	for _, content := range []string{"{", `{"version":99,"uplinks":[]}`} {
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(bad); err == nil {
			t.Errorf("Load(%q) succeeded", content)
		}
	}
}

func TestSysFSAttributes(t *testing.T) {
	root := t.TempDir()
	dev := filepath.Join(root, "devices/pci0000:00/0000:00:04.0")
	for _, d := range []string{dev + "/net/eth0/queues/rx-0", dev + "/net/eth0/queues/rx-1", dev + "/net/eth0/queues/tx-0", root + "/bus/pci/drivers/virtio-pci", root + "/class/net"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(dev+"/net/eth0", root+"/class/net/eth0"))
	must(os.Symlink("../../../bus/pci/drivers/virtio-pci", dev+"/driver"))
	must(os.Symlink("../../../0000:00:04.0", dev+"/net/eth0/device"))
	u := &Uplink{Name: "eth0"}
	u.readSysFS(RootSysFS{Root: root})
	if u.Driver != "virtio-pci" || u.PCI != "0000:00:04.0" || u.NumRxQueues != 2 || u.NumTxQueues != 1 {
		t.Errorf("sysfs attributes = driver %q pci %q rx %d tx %d", u.Driver, u.PCI, u.NumRxQueues, u.NumTxQueues)
	}
}
