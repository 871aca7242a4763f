package uplink

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/vpp-manager/linuxstate"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l.WithField("t", "t")
}

func TestCandidates(t *testing.T) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	sys := newFakeSysfs(t, map[string]string{"0000:00:04.0": "virtio-pci", "0000:00:05.0": "iavf"}, "virtio-pci", "iavf", "vfio-pci")
	sys.write("/sys/bus/pci/devices/0000:00:05.0/vendor", "0x8086\n")
	kernel := func(rel string) func() (string, error) { return func() (string, error) { return rel, nil } }
	cases := []struct {
		name       string
		uplink     linuxstate.Uplink
		configured config.Driver
		kernel     string
		want       string
		wantErr    string
	}{
		{"virtio device", linuxstate.Uplink{Name: "eth0", PCI: "0000:00:04.0", Driver: "virtio-pci", MTU: 1500}, config.DriverAuto, "6.1.0", "virtio,af_xdp,af_packet", ""},
		{"intel vf", linuxstate.Uplink{Name: "eth1", PCI: "0000:00:05.0", Driver: "iavf", MTU: 1500}, config.DriverAuto, "6.1.0", "avf,af_xdp,af_packet", ""},
		{"veth on an old kernel", linuxstate.Uplink{Name: "veth0", MTU: 1500}, config.DriverAuto, "4.19.0", "af_packet", ""},
		{"jumbo frames skip af_xdp", linuxstate.Uplink{Name: "veth0", MTU: 9000}, config.DriverAuto, "6.1.0", "af_packet", ""},
		{"configured dpdk", linuxstate.Uplink{Name: "eth0", PCI: "0000:00:04.0", Driver: "virtio-pci"}, config.DriverDPDK, "6.1.0", "dpdk", ""},
		{"dpdk without PCI", linuxstate.Uplink{Name: "veth0"}, config.DriverDPDK, "6.1.0", "", "cannot use dpdk: not a PCI device"},
		{"avf on virtio", linuxstate.Uplink{Name: "eth0", PCI: "0000:00:04.0", Driver: "virtio-pci"}, config.DriverAVF, "6.1.0", "", "not an Intel VF or PF driver"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := &Env{FS: sys, PCI: PCI{FS: sys}, KernelRelease: kernel(c.kernel), Log: quiet.WithField("t", "t")}
			got, err := Candidates(env, &c.uplink, c.configured)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range got {
				names = append(names, string(d.Name()))
			}
			if strings.Join(names, ",") != c.want {
				t.Errorf("candidates = %v, want %s", names, c.want)
			}
		})
	}
}

func TestPCIDriverPrepareAndRelease(t *testing.T) {
	sys := newFakeSysfs(t, map[string]string{"0000:00:04.0": "virtio-pci"}, "virtio-pci", "vfio-pci")
	env := &Env{FS: sys, PCI: PCI{FS: sys}}
	u := &linuxstate.Uplink{Name: "eth0", PCI: "0000:00:04.0", Driver: "virtio-pci"}
	for _, d := range []Driver{dpdk{}, virtio{}} {
		if err := d.PrepareLinux(env, u, config.UplinkSpec{}); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		if drv, _ := env.PCI.Driver(u.PCI); drv != "vfio-pci" {
			t.Errorf("%s: device on %q after prepare, want vfio-pci", d.Name(), drv)
		}
		// The kernel names the interface again when the driver comes back;
		// here it comes back under its old name (no netlink rename needed).
		sys.mkdir("/sys/bus/pci/devices/0000:00:04.0/net/eth0")
		if err := d.Release(env, u); err != nil {
			t.Fatalf("%s release: %v", d.Name(), err)
		}
		if drv, _ := env.PCI.Driver(u.PCI); drv != "virtio-pci" {
			t.Errorf("%s: device on %q after release, want virtio-pci", d.Name(), drv)
		}
	}
	// Without a userspace driver loaded, preparing fails before touching anything.
	bare := newFakeSysfs(t, map[string]string{"0000:00:04.0": "virtio-pci"}, "virtio-pci")
	benv := &Env{FS: bare, PCI: PCI{FS: bare}}
	err := dpdk{}.PrepareLinux(benv, u, config.UplinkSpec{})
	if err == nil || !strings.Contains(err.Error(), "modprobe vfio-pci") {
		t.Errorf("prepare without vfio: %v", err)
	}
	if len(bare.writes) != 0 {
		t.Errorf("writes without a usable driver: %v", bare.writes)
	}
}

type fakeVF struct{ calls []string }

func (f *fakeVF) ConfigureVF(pf string, vf int, mac net.HardwareAddr) error {
	f.calls = append(f.calls, fmt.Sprintf("%s/%d/%s", pf, vf, mac))
	return nil
}

func TestAVFOnAPhysicalFunction(t *testing.T) {
	sys := newFakeSysfs(t, map[string]string{"0000:3b:00.0": "i40e"}, "i40e", "iavf", "vfio-pci")
	sys.write("/sys/bus/pci/devices/0000:3b:00.0/vendor", "0x8086\n")
	sys.write("/sys/bus/pci/devices/0000:3b:00.0/sriov_totalvfs", "64\n")
	sys.write("/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs", "0\n")
	vf := &fakeVF{}
	env := &Env{FS: sys, PCI: PCI{FS: sys}, VF: vf, KernelRelease: func() (string, error) { return "6.1", nil }, Log: quietLog()}
	u := &linuxstate.Uplink{Name: "ens1f0", PCI: "0000:3b:00.0", Driver: "i40e", MAC: "02:00:00:00:3b:00"}
	got, err := Candidates(env, u, config.DriverAuto)
	if err != nil || len(got) == 0 || got[0].Name() != config.DriverAVF {
		t.Fatalf("candidates = %v, %v; want avf first", got, err)
	}
	d := got[0]
	if err := d.PrepareLinux(env, u, config.UplinkSpec{}); err != nil {
		t.Fatal(err)
	}
	if len(vf.calls) != 1 || vf.calls[0] != "ens1f0/0/02:00:00:00:3b:00" {
		t.Errorf("VF configuration = %v", vf.calls)
	}
	if drv, _ := env.PCI.Driver("0000:3b:00.1"); drv != "vfio-pci" {
		t.Errorf("VF driver = %q, want vfio-pci", drv)
	}
	if err := d.Release(env, u); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Readlink("/sys/bus/pci/devices/0000:3b:00.0/virtfn0"); err == nil {
		t.Error("the VF still exists after release")
	}
}
