package uplink

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSysfs is a sysfs tree in a temp dir whose bind/unbind files act like
// the kernel's: writing an address moves the device's driver symlink.
type fakeSysfs struct {
	RootFS
	t      *testing.T
	writes []string
}

func newFakeSysfs(t *testing.T, devices map[string]string, drivers ...string) *fakeSysfs {
	t.Helper()
	f := &fakeSysfs{RootFS: RootFS{Root: t.TempDir()}, t: t}
	for _, d := range drivers {
		f.mkdir("/sys/bus/pci/drivers/" + d)
	}
	for addr, driver := range devices {
		f.mkdir("/sys/bus/pci/devices/" + addr)
		f.write("/sys/bus/pci/devices/"+addr+"/vendor", "0x1af4\n")
		f.write("/sys/bus/pci/devices/"+addr+"/driver_override", "(null)\n")
		if driver != "" {
			f.link(addr, driver)
		}
	}
	f.write("/proc/meminfo", "MemTotal: 1 kB\nHugePages_Total:     512\n")
	return f
}

func (f *fakeSysfs) mkdir(p string) {
	if err := os.MkdirAll(f.p(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeSysfs) write(p, s string) {
	f.mkdir(filepath.Dir(p))
	if err := os.WriteFile(f.p(p), []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeSysfs) link(addr, driver string) {
	l := f.p("/sys/bus/pci/devices/" + addr + "/driver")
	_ = os.Remove(l)
	if driver != "" {
		if err := os.Symlink("../../drivers/"+driver, l); err != nil {
			f.t.Fatal(err)
		}
	}
}

// WriteFile records the write and simulates the kernel's reaction.
func (f *fakeSysfs) WriteFile(p string, data []byte) error {
	f.writes = append(f.writes, p+"="+strings.TrimSpace(string(data)))
	switch {
	case strings.HasSuffix(p, "/sriov_numvfs"):
		pf := filepath.Base(filepath.Dir(p))
		vf := pf[:len(pf)-1] + "1"
		link := f.p(filepath.Join(filepath.Dir(p), "virtfn0"))
		if strings.TrimSpace(string(data)) == "0" {
			_ = os.Remove(link)
			_ = os.RemoveAll(f.p("/sys/bus/pci/devices/" + vf))
		} else {
			f.mkdir("/sys/bus/pci/devices/" + vf)
			f.write("/sys/bus/pci/devices/"+vf+"/vendor", "0x8086\n")
			f.write("/sys/bus/pci/devices/"+vf+"/driver_override", "(null)\n")
			f.link(vf, "iavf")
			if err := os.Symlink("../"+vf, link); err != nil {
				return err
			}
		}
		f.write(p, string(data))
		return nil
	case strings.HasSuffix(p, "/driver/unbind"):
		f.link(string(data), "")
		return nil
	case strings.HasSuffix(p, "/bind"):
		driver := filepath.Base(filepath.Dir(p))
		if _, err := f.Stat(filepath.Dir(p)); err != nil {
			return err
		}
		f.link(string(data), driver)
		return nil
	}
	f.write(p, string(data))
	return nil
}

func (f *fakeSysfs) Stat(p string) (fs.FileInfo, error) { return os.Stat(f.p(p)) }

func TestBindAndRestore(t *testing.T) {
	sys := newFakeSysfs(t, map[string]string{"0000:00:04.0": "virtio-pci", "0000:00:05.0": ""}, "virtio-pci", "vfio-pci")
	pci := PCI{FS: sys}
	if d, err := pci.Driver("0000:00:04.0"); err != nil || d != "virtio-pci" {
		t.Fatalf("driver = %q, %v", d, err)
	}
	if v, err := pci.Vendor("0000:00:04.0"); err != nil || v != VendorVirtio {
		t.Fatalf("vendor = %#x, %v", v, err)
	}
	if err := pci.Bind("0000:00:04.0", "vfio-pci"); err != nil {
		t.Fatal(err)
	}
	if d, _ := pci.Driver("0000:00:04.0"); d != "vfio-pci" {
		t.Errorf("after bind, driver = %q", d)
	}
	want := []string{
		"/sys/bus/pci/devices/0000:00:04.0/driver_override=vfio-pci",
		"/sys/bus/pci/devices/0000:00:04.0/driver/unbind=0000:00:04.0",
		"/sys/bus/pci/drivers/vfio-pci/bind=0000:00:04.0",
	}
	if strings.Join(sys.writes, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(sys.writes, "\n"), strings.Join(want, "\n"))
	}
	// Binding again is a no-op.
	sys.writes = nil
	if err := pci.Bind("0000:00:04.0", "vfio-pci"); err != nil || len(sys.writes) != 0 {
		t.Errorf("second bind: err=%v writes=%v", err, sys.writes)
	}
	if err := pci.Restore("0000:00:04.0", "virtio-pci"); err != nil {
		t.Fatal(err)
	}
	if d, _ := pci.Driver("0000:00:04.0"); d != "virtio-pci" {
		t.Errorf("after restore, driver = %q", d)
	}
	// An unbound device binds without an unbind.
	sys.writes = nil
	if err := pci.Bind("0000:00:05.0", "vfio-pci"); err != nil {
		t.Fatal(err)
	}
	if len(sys.writes) != 2 {
		t.Errorf("writes = %v", sys.writes)
	}
}

func TestBindErrors(t *testing.T) {
	sys := newFakeSysfs(t, map[string]string{"0000:00:04.0": "virtio-pci"}, "virtio-pci")
	pci := PCI{FS: sys}
	if err := pci.Bind("0000:00:04.0", "vfio-pci"); err == nil || !strings.Contains(err.Error(), "driver not loaded (modprobe vfio-pci)") {
		t.Errorf("bind to a missing driver: %v", err)
	}
	if d, _ := pci.Driver("0000:00:04.0"); d != "virtio-pci" {
		t.Errorf("a failed bind changed the driver to %q", d)
	}
	if _, err := pci.Driver("0000:00:09.0"); err == nil || !strings.Contains(err.Error(), "PCI device 0000:00:09.0") {
		t.Errorf("unknown device: %v", err)
	}
}

func TestHugepages(t *testing.T) {
	sys := newFakeSysfs(t, nil)
	if n, err := Hugepages(sys); err != nil || n != 512 {
		t.Errorf("hugepages = %d, %v", n, err)
	}
	sys.write("/proc/meminfo", "MemTotal: 1 kB\n")
	if n, err := Hugepages(sys); err != nil || n != 0 {
		t.Errorf("no hugepage line: %d, %v", n, err)
	}
}
