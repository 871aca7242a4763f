// Package uplink prepares an uplink for the VPP driver that will own it
// and gives it back to Linux afterwards. Every sysfs and PCI operation goes
// through FS, so that the DPDK/AVF/virtio paths are tested against a fake
// sysfs tree.
package uplink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FS is the slice of the filesystem the drivers touch: sysfs (devices,
// drivers, bind/unbind files) and /proc/meminfo.
type FS interface {
	ReadFile(path string) ([]byte, error)
	WriteFile(path string, data []byte) error
	Readlink(path string) (string, error)
	Stat(path string) (fs.FileInfo, error)
	// Glob returns the matching paths (under the root for RootFS).
	Glob(pattern string) ([]string, error)
}

// RootFS is the real filesystem under Root ("" for /).
type RootFS struct{ Root string }

func (r RootFS) p(path string) string { return filepath.Join("/", r.Root, path) }

// ReadFile implements FS.
func (r RootFS) ReadFile(path string) ([]byte, error) { return os.ReadFile(r.p(path)) }

// WriteFile implements FS. sysfs attribute files exist already: never create.
func (r RootFS) WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(r.p(path), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Readlink implements FS.
func (r RootFS) Readlink(path string) (string, error) { return os.Readlink(r.p(path)) }

// Stat implements FS.
func (r RootFS) Stat(path string) (fs.FileInfo, error) { return os.Stat(r.p(path)) }

// Glob implements FS.
func (r RootFS) Glob(pattern string) ([]string, error) { return filepath.Glob(r.p(pattern)) }

// PCI binds PCI devices to drivers through sysfs, the way dpdk-devbind
// does: driver_override, unbind from the current driver, bind.
type PCI struct{ FS FS }

func devPath(addr, file string) string { return filepath.Join("/sys/bus/pci/devices", addr, file) }

// Driver returns the kernel driver the device is bound to ("" if none).
func (p PCI) Driver(addr string) (string, error) {
	if _, err := p.FS.Stat(devPath(addr, "")); err != nil {
		return "", fmt.Errorf("PCI device %s: %w", addr, err)
	}
	target, err := p.FS.Readlink(devPath(addr, "driver"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("driver of PCI device %s: %w", addr, err)
	}
	return filepath.Base(target), nil
}

// Vendor returns the device's PCI vendor id (0x1af4 is virtio).
func (p PCI) Vendor(addr string) (uint16, error) {
	b, err := p.FS.ReadFile(devPath(addr, "vendor"))
	if err != nil {
		return 0, fmt.Errorf("vendor of PCI device %s: %w", addr, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("vendor of PCI device %s: %q: %w", addr, b, err)
	}
	return uint16(v), nil
}

// VendorVirtio is Red Hat's PCI vendor id, used by virtio devices.
const VendorVirtio = 0x1af4

// DriverAvailable reports whether the kernel driver is loaded.
func (p PCI) DriverAvailable(driver string) bool {
	_, err := p.FS.Stat(filepath.Join("/sys/bus/pci/drivers", driver))
	return err == nil
}

// Bind moves the device to driver (e.g. vfio-pci). It is a no-op when
// the device is bound to it already.
func (p PCI) Bind(addr, driver string) error {
	current, err := p.Driver(addr)
	if err != nil {
		return err
	}
	if current == driver {
		return nil
	}
	if !p.DriverAvailable(driver) {
		return fmt.Errorf("bind PCI device %s to %s: driver not loaded (modprobe %s)", addr, driver, driver)
	}
	if err := p.FS.WriteFile(devPath(addr, "driver_override"), []byte(driver)); err != nil {
		return fmt.Errorf("bind PCI device %s to %s: set driver_override: %w", addr, driver, err)
	}
	if current != "" {
		if err := p.FS.WriteFile(devPath(addr, "driver/unbind"), []byte(addr)); err != nil {
			return fmt.Errorf("bind PCI device %s to %s: unbind from %s: %w", addr, driver, current, err)
		}
	}
	if err := p.FS.WriteFile(filepath.Join("/sys/bus/pci/drivers", driver, "bind"), []byte(addr)); err != nil {
		return fmt.Errorf("bind PCI device %s to %s: %w", addr, driver, err)
	}
	return nil
}

// Restore gives the device back to its original kernel driver: unbind
// from the current one, clear driver_override and let the kernel probe
// (or bind original explicitly when it is known).
func (p PCI) Restore(addr, original string) error {
	current, err := p.Driver(addr)
	if err != nil {
		return err
	}
	if current == original && current != "" {
		return nil
	}
	if current != "" {
		if err := p.FS.WriteFile(devPath(addr, "driver/unbind"), []byte(addr)); err != nil {
			return fmt.Errorf("restore PCI device %s: unbind from %s: %w", addr, current, err)
		}
	}
	if err := p.FS.WriteFile(devPath(addr, "driver_override"), []byte("\n")); err != nil {
		return fmt.Errorf("restore PCI device %s: clear driver_override: %w", addr, err)
	}
	if original == "" {
		return nil
	}
	if err := p.FS.WriteFile(filepath.Join("/sys/bus/pci/drivers", original, "bind"), []byte(addr)); err != nil {
		return fmt.Errorf("restore PCI device %s to %s: %w", addr, original, err)
	}
	return nil
}

// Hugepages returns the number of hugepages the host has (HugePages_Total
// of /proc/meminfo).
func Hugepages(f FS) (int, error) {
	b, err := f.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "HugePages_Total:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return 0, fmt.Errorf("parse HugePages_Total %q: %w", rest, err)
			}
			return n, nil
		}
	}
	return 0, nil
}
