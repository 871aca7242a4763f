package uplink

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/vpp-manager/linuxstate"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Env is what drivers act on: the host's and VPP's network namespaces
// and the filesystem (sysfs, /proc).
type Env struct {
	Host     *netlink.Handle // vpp-manager's (the node's) namespace
	HostNS   netns.NsHandle
	VPPNS    netns.NsHandle
	VPPNetns string // VPP's namespace name
	FS       FS
	PCI      PCI
	// KernelRelease returns uname -r (injected for tests).
	KernelRelease func() (string, error)
	// VF configures virtual functions through their PF (AVF on a PF).
	VF  VFConfigurer
	Log *logrus.Entry
}

// Driver attaches an uplink to VPP with one VPP driver. PrepareLinux
// readies the Linux side before VPP starts (or before Attach when VPP runs
// already); Attach creates (or finds) the VPP interface; Release gives the
// uplink back to Linux once VPP has exited (the caller then restores the
// saved addresses and routes).
type Driver interface {
	Name() config.Driver
	// Check says why this driver cannot take the uplink (nil: it can).
	Check(env *Env, u *linuxstate.Uplink) error
	// InStartupConf reports whether the driver must be chosen before VPP
	// starts (it appears in startup.conf).
	InStartupConf() bool
	PrepareLinux(env *Env, u *linuxstate.Uplink, spec config.UplinkSpec) error
	Attach(ctx context.Context, env *Env, v *vpplink.VPP, u *linuxstate.Uplink, spec config.UplinkSpec) (vpplink.SwIfIndex, error)
	Release(env *Env, u *linuxstate.Uplink) error
}

// ForName returns the driver of that name.
func ForName(d config.Driver) (Driver, error) {
	switch d {
	case config.DriverAFPacket:
		return afPacket{}, nil
	case config.DriverAFXDP:
		return afXDP{}, nil
	case config.DriverDPDK:
		return dpdk{}, nil
	case config.DriverAVF:
		return &avf{}, nil
	case config.DriverVirtio:
		return virtio{}, nil
	}
	return nil, fmt.Errorf("unknown driver %q", d)
}

// Candidates lists the drivers to try, best first: the configured one
// alone, or for auto the native PCI driver the device supports (virtio,
// avf), then AF_XDP, then AF_PACKET, each kept only if Check accepts it.
func Candidates(env *Env, u *linuxstate.Uplink, configured config.Driver) ([]Driver, error) {
	if configured != config.DriverAuto {
		d, err := ForName(configured)
		if err != nil {
			return nil, err
		}
		if err := d.Check(env, u); err != nil {
			return nil, fmt.Errorf("uplink %s cannot use %s: %w", u.Name, configured, err)
		}
		return []Driver{d}, nil
	}
	var out []Driver
	for _, d := range []Driver{virtio{}, &avf{}, afXDP{}, afPacket{}} {
		if err := d.Check(env, u); err != nil {
			env.Log.WithField("uplink", u.Name).WithField("driver", d.Name()).Debugf("not usable: %v", err)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// moveToVPP moves the uplink into VPP's namespace, promiscuous and up
// (VPP's AF_PACKET and AF_XDP sockets open it there).
func moveToVPP(env *Env, name string) error {
	if err := nsutil.MoveLink(env.Host, name, env.VPPNS); err != nil {
		return err
	}
	h, err := nsutil.Handle(env.VPPNS)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s in VPP's netns: %w", name, err)
	}
	if err := h.SetPromiscOn(link); err != nil {
		return fmt.Errorf("set %s promiscuous: %w", name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// moveBack brings the uplink back from VPP's namespace if it is there.
func moveBack(env *Env, name string) error {
	h, err := nsutil.Handle(env.VPPNS)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.LinkByName(name); err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil // already back, or never moved
		}
		return err
	}
	return nsutil.MoveLink(h, name, env.HostNS)
}

type afPacket struct{}

func (afPacket) Name() config.Driver { return config.DriverAFPacket }
func (afPacket) InStartupConf() bool { return false }
func (afPacket) Check(*Env, *linuxstate.Uplink) error {
	return nil // works on every Linux interface
}
func (afPacket) PrepareLinux(env *Env, u *linuxstate.Uplink, _ config.UplinkSpec) error {
	return moveToVPP(env, u.Name)
}
func (afPacket) Attach(ctx context.Context, _ *Env, v *vpplink.VPP, u *linuxstate.Uplink, spec config.UplinkSpec) (vpplink.SwIfIndex, error) {
	return v.CreateAFPacket(ctx, vpplink.AFPacket{
		HostIfName: u.Name, MAC: u.HardwareAddr(),
		NumRxQueues: uint16(spec.NumRxQueues), NumTxQueues: uint16(spec.NumTxQueues), QdiscBypass: true,
	})
}
func (afPacket) Release(env *Env, u *linuxstate.Uplink) error { return moveBack(env, u.Name) }

// AF_XDP needs kernel 5.4 and frames that fit a page.
const afXDPMaxMTU = 3072

type afXDP struct{}

func (afXDP) Name() config.Driver { return config.DriverAFXDP }
func (afXDP) InStartupConf() bool { return false }
func (afXDP) Check(env *Env, u *linuxstate.Uplink) error {
	if env.KernelRelease == nil {
		return errors.New("kernel version unknown")
	}
	rel, err := env.KernelRelease()
	if err != nil {
		return err
	}
	var major, minor int
	if _, err := fmt.Sscanf(rel, "%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("kernel release %q: %w", rel, err)
	}
	if major < 5 || (major == 5 && minor < 4) {
		return fmt.Errorf("kernel %s is older than 5.4", rel)
	}
	if u.MTU > afXDPMaxMTU {
		return fmt.Errorf("MTU %d above AF_XDP's %d", u.MTU, afXDPMaxMTU)
	}
	return nil
}
func (afXDP) PrepareLinux(env *Env, u *linuxstate.Uplink, _ config.UplinkSpec) error {
	return moveToVPP(env, u.Name)
}
func (afXDP) Attach(ctx context.Context, _ *Env, v *vpplink.VPP, u *linuxstate.Uplink, spec config.UplinkSpec) (vpplink.SwIfIndex, error) {
	rxq := spec.NumRxQueues
	if u.NumRxQueues > 0 && rxq > u.NumRxQueues {
		rxq = u.NumRxQueues
	}
	idx, err := v.CreateAFXDP(ctx, vpplink.AFXDP{HostIfName: u.Name, NumRxQueues: uint16(max(rxq, 1)),
		RxQueueSize: uint16(spec.RxQueueSize), TxQueueSize: uint16(spec.TxQueueSize)})
	if err != nil {
		return idx, err
	}
	if mac := u.HardwareAddr(); mac != nil {
		if err := v.SetInterfaceMAC(ctx, idx, mac); err != nil {
			return idx, err
		}
	}
	return idx, nil
}
func (afXDP) Release(env *Env, u *linuxstate.Uplink) error { return moveBack(env, u.Name) }

// pciDriver is the shared part of DPDK, AVF and virtio: the device leaves
// its kernel driver for vfio-pci (uio_pci_generic as a fallback) and comes
// back to it, under its old name, afterwards.
type pciDriver struct{}

func (pciDriver) userspaceDriver(env *Env) (string, error) {
	for _, d := range []string{"vfio-pci", "uio_pci_generic"} {
		if env.PCI.DriverAvailable(d) {
			return d, nil
		}
	}
	return "", errors.New("neither vfio-pci nor uio_pci_generic is loaded (modprobe vfio-pci)")
}

func (p pciDriver) check(env *Env, u *linuxstate.Uplink) error {
	if u.PCI == "" {
		return errors.New("not a PCI device")
	}
	_, err := p.userspaceDriver(env)
	return err
}

func (p pciDriver) bind(env *Env, u *linuxstate.Uplink, spec config.UplinkSpec) error {
	driver := spec.NewDriverName
	if driver == "" {
		var err error
		if driver, err = p.userspaceDriver(env); err != nil {
			return err
		}
	}
	return env.PCI.Bind(u.PCI, driver)
}

// release rebinds the kernel driver and renames the interface back (the
// kernel may give it another name when it reappears).
func (pciDriver) release(env *Env, u *linuxstate.Uplink) error {
	if err := env.PCI.Restore(u.PCI, u.Driver); err != nil {
		return err
	}
	// Drivers probe asynchronously (and udev may rename): wait for the
	// network device to show up under the PCI device.
	var names []string
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if names, err = pciNetNames(env, u.PCI); err == nil && len(names) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(names) == 0 {
		return fmt.Errorf("uplink %s did not reappear under PCI device %s: %v", u.Name, u.PCI, err)
	}
	if names[0] == u.Name {
		return nil
	}
	link, err := env.Host.LinkByName(names[0])
	if err != nil {
		return fmt.Errorf("find %s (was %s): %w", names[0], u.Name, err)
	}
	if err := env.Host.LinkSetDown(link); err != nil {
		return err
	}
	return env.Host.LinkSetName(link, u.Name)
}

func pciNetNames(env *Env, addr string) ([]string, error) {
	paths, err := env.FS.Glob(filepath.Join("/sys/bus/pci/devices", addr, "net", "*"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out, nil
}

type dpdk struct{ pciDriver }

func (dpdk) Name() config.Driver                          { return config.DriverDPDK }
func (dpdk) InStartupConf() bool                          { return true }
func (d dpdk) Check(env *Env, u *linuxstate.Uplink) error { return d.check(env, u) }
func (d dpdk) PrepareLinux(env *Env, u *linuxstate.Uplink, spec config.UplinkSpec) error {
	return d.bind(env, u, spec)
}

// Attach finds the interface the dpdk plugin created from startup.conf's
// "dev <pci> { name <uplink> }".
func (dpdk) Attach(ctx context.Context, _ *Env, v *vpplink.VPP, u *linuxstate.Uplink, _ config.UplinkSpec) (vpplink.SwIfIndex, error) {
	i, found, err := v.InterfaceByName(ctx, u.Name)
	if err != nil {
		return vpplink.InvalidSwIfIndex, err
	}
	if !found {
		return vpplink.InvalidSwIfIndex, fmt.Errorf("VPP has no DPDK interface named %s (PCI %s)", u.Name, u.PCI)
	}
	return i.SwIfIndex, nil
}
func (d dpdk) Release(env *Env, u *linuxstate.Uplink) error { return d.release(env, u) }

type virtio struct{ pciDriver }

func (virtio) Name() config.Driver { return config.DriverVirtio }
func (virtio) InStartupConf() bool { return false }
func (v virtio) Check(env *Env, u *linuxstate.Uplink) error {
	if u.PCI == "" {
		return errors.New("not a PCI device")
	}
	vendor, err := env.PCI.Vendor(u.PCI)
	if err != nil {
		return err
	}
	if vendor != VendorVirtio {
		return fmt.Errorf("PCI vendor %#04x is not virtio", vendor)
	}
	return v.check(env, u)
}
func (v virtio) PrepareLinux(env *Env, u *linuxstate.Uplink, spec config.UplinkSpec) error {
	spec.NewDriverName = "vfio-pci"
	return v.bind(env, u, spec)
}
func (virtio) Attach(ctx context.Context, _ *Env, vpp *vpplink.VPP, u *linuxstate.Uplink, _ config.UplinkSpec) (vpplink.SwIfIndex, error) {
	addr, err := vpplink.ParsePCIAddress(u.PCI)
	if err != nil {
		return vpplink.InvalidSwIfIndex, err
	}
	return vpp.CreateVirtio(ctx, vpplink.VirtioPCI{PCI: addr, MAC: u.HardwareAddr()})
}
func (v virtio) Release(env *Env, u *linuxstate.Uplink) error { return v.release(env, u) }

// KernelRelease reads uname -r.
func KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return strings.TrimRight(string(u.Release[:]), "\x00"), nil
}

// ReleaseAny gives an uplink back to Linux whatever driver had it, for
// the recovery after a vpp-manager that died without cleaning up: the link
// comes back from VPP's namespace, or its PCI device back to its kernel
// driver.
func ReleaseAny(env *Env, u *linuxstate.Uplink) error {
	var errs []error
	if env.VPPNS.IsOpen() {
		if err := moveBack(env, u.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if u.PCI != "" && u.Driver != "" {
		if current, err := env.PCI.Driver(u.PCI); err != nil {
			errs = append(errs, err)
		} else if current != u.Driver {
			if err := (pciDriver{}).release(env, u); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
