package uplink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/vpp-manager/linuxstate"
)

// VFConfigurer sets up a virtual function through its physical function
// (netlink on the PF), so that VPP can drive it with AVF: the uplink's
// MAC, trusted (it may change MACs and go promiscuous), no spoof check.
type VFConfigurer interface {
	ConfigureVF(pf string, vf int, mac net.HardwareAddr) error
}

// NetlinkVF is the VFConfigurer of a real node.
type NetlinkVF struct{ Handle *netlink.Handle }

// ConfigureVF implements VFConfigurer.
func (n NetlinkVF) ConfigureVF(pf string, vf int, mac net.HardwareAddr) error {
	link, err := n.Handle.LinkByName(pf)
	if err != nil {
		return fmt.Errorf("find PF %s: %w", pf, err)
	}
	if mac != nil {
		if err := n.Handle.LinkSetVfHardwareAddr(link, vf, mac); err != nil {
			return fmt.Errorf("set MAC of %s vf %d: %w", pf, vf, err)
		}
	}
	if err := n.Handle.LinkSetVfTrust(link, vf, true); err != nil {
		return fmt.Errorf("trust %s vf %d: %w", pf, vf, err)
	}
	if err := n.Handle.LinkSetVfSpoofchk(link, vf, false); err != nil {
		return fmt.Errorf("disable spoof check of %s vf %d: %w", pf, vf, err)
	}
	return nil
}

// Intel drivers: the VF driver, and the PF drivers that can create VFs.
func isIntelVF(driver string) bool { return driver == "iavf" || driver == "i40evf" }
func isIntelPF(driver string) bool { return driver == "i40e" || driver == "ice" }

type avf struct {
	pciDriver
	createdVF bool // this run created the PF's VF: remove it on release
}

func (*avf) Name() config.Driver { return config.DriverAVF }
func (*avf) InStartupConf() bool { return false }

// Check accepts an Intel VF, or an Intel PF able to create one.
func (a *avf) Check(env *Env, u *linuxstate.Uplink) error {
	switch {
	case isIntelVF(u.Driver):
	case isIntelPF(u.Driver):
		if n, err := readInt(env.FS, devPath(u.PCI, "sriov_totalvfs")); err != nil || n < 1 {
			return fmt.Errorf("PF %s cannot create virtual functions", u.PCI)
		}
		if env.VF == nil {
			return errors.New("no way to configure virtual functions")
		}
	default:
		return fmt.Errorf("driver %q is not an Intel VF or PF driver", u.Driver)
	}
	return a.check(env, u)
}

// PrepareLinux binds the VF to vfio-pci; for a PF it first creates a VF
// carrying the uplink's MAC, and moves the PF's addresses away (the host
// gets them back on vpptap0).
func (a *avf) PrepareLinux(env *Env, u *linuxstate.Uplink, spec config.UplinkSpec) error {
	vf := u.PCI
	if isIntelPF(u.Driver) {
		var err error
		if vf, err = a.createVF(env, u); err != nil {
			return err
		}
		if err := flushAddresses(env.Host, u.Name); err != nil {
			return err
		}
	}
	if err := env.PCI.Bind(vf, "vfio-pci"); err != nil {
		return err
	}
	return nil
}

func (a *avf) createVF(env *Env, u *linuxstate.Uplink) (string, error) {
	if n, _ := readInt(env.FS, devPath(u.PCI, "sriov_numvfs")); n == 0 {
		if err := env.FS.WriteFile(devPath(u.PCI, "sriov_numvfs"), []byte("1")); err != nil {
			return "", fmt.Errorf("create a VF on %s: %w", u.PCI, err)
		}
		a.createdVF = true
	}
	vf, err := waitVF(env, u.PCI)
	if err != nil {
		return "", err
	}
	if err := env.VF.ConfigureVF(u.Name, 0, u.HardwareAddr()); err != nil {
		return "", err
	}
	return vf, nil
}

// waitVF returns the PCI address of the PF's first VF (virtfn0).
func waitVF(env *Env, pf string) (string, error) {
	var lastErr error
	for range 50 {
		target, err := env.FS.Readlink(devPath(pf, "virtfn0"))
		if err == nil {
			return filepath.Base(target), nil
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("VF of %s did not appear: %w", pf, lastErr)
}

// vfAddress is the PCI device AVF drives: the uplink itself, or its VF.
func vfAddress(env *Env, u *linuxstate.Uplink) (string, error) {
	if isIntelPF(u.Driver) {
		target, err := env.FS.Readlink(devPath(u.PCI, "virtfn0"))
		if err != nil {
			return "", fmt.Errorf("VF of %s: %w", u.PCI, err)
		}
		return filepath.Base(target), nil
	}
	return u.PCI, nil
}

func (*avf) Attach(ctx context.Context, env *Env, v *vpplink.VPP, u *linuxstate.Uplink, spec config.UplinkSpec) (vpplink.SwIfIndex, error) {
	pci, err := vfAddress(env, u)
	if err != nil {
		return vpplink.InvalidSwIfIndex, err
	}
	addr, err := vpplink.ParsePCIAddress(pci)
	if err != nil {
		return vpplink.InvalidSwIfIndex, err
	}
	idx, err := v.CreateAVF(ctx, vpplink.AVF{PCI: addr, NumRxQueues: uint16(spec.NumRxQueues), RxQueueSize: uint16(spec.RxQueueSize), TxQueueSize: uint16(spec.TxQueueSize)})
	if err != nil {
		return idx, err
	}
	if mac := u.HardwareAddr(); mac != nil {
		err = v.SetInterfaceMAC(ctx, idx, mac)
	}
	return idx, err
}

// Release gives the VF back to its driver, or for a PF removes the VF
// (the PF's own state is then restored from the saved state).
func (a *avf) Release(env *Env, u *linuxstate.Uplink) error {
	if !isIntelPF(u.Driver) {
		return a.release(env, u)
	}
	if a.createdVF {
		// Ours: removing it is the whole release (no rebinding needed).
		if err := env.FS.WriteFile(devPath(u.PCI, "sriov_numvfs"), []byte("0")); err != nil {
			return fmt.Errorf("remove the VF of %s: %w", u.PCI, err)
		}
		a.createdVF = false
		return nil
	}
	// The operator's VF: hand it back to the kernel's VF driver.
	vf, err := vfAddress(env, u)
	if err != nil {
		return err
	}
	return env.PCI.Restore(vf, "iavf")
}

func flushAddresses(h *netlink.Handle, name string) error {
	if h == nil {
		return nil
	}
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove %s from %s: %w", a.IPNet, name, err)
		}
	}
	return nil
}

func readInt(fs FS, path string) (int, error) {
	b, err := fs.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
