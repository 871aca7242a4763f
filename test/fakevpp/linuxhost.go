package fakevpp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// LinuxHost performs VPP's Linux side effects for real: tap/tun devices are
// created (non-persistent, so they vanish with the process, as VPP's do)
// and moved into the requested network namespace, then named, addressed
// and brought up as tap_create_v3 does (src/vnet/devices/tap/tap.c).
// AF_PACKET host interfaces are looked up in the process's own namespace.
type LinuxHost struct{}

var _ Host = LinuxHost{}

// openNetns resolves VPP's host_namespace forms: "pid:N", an absolute
// path, or a name under /var/run/netns.
func openNetns(name string) (netns.NsHandle, error) {
	switch {
	case strings.HasPrefix(name, "pid:"):
		return netns.GetFromPath("/proc/" + strings.TrimPrefix(name, "pid:") + "/ns/net")
	case filepath.IsAbs(name):
		return netns.GetFromPath(name)
	default:
		return netns.GetFromPath("/var/run/netns/" + name)
	}
}

func handleFor(ns string) (*netlink.Handle, func(), error) {
	if ns == "" {
		h, err := netlink.NewHandle()
		return h, func() { h.Close() }, err
	}
	fd, err := openNetns(ns)
	if err != nil {
		return nil, nil, err
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, nil, err
	}
	return h, func() { h.Close(); fd.Close() }, nil
}

// CreateTap implements Host.
func (LinuxHost) CreateTap(t HostTap) (HostDevice, error) {
	var nsFd netns.NsHandle = -1
	if t.HostNamespace != "" {
		fd, err := openNetns(t.HostNamespace)
		if err != nil {
			// open() of the namespace fails: SYSCALL_ERROR_2.
			return nil, &HostError{Retval: rvSyscallError2, Err: fmt.Errorf("open netns %s: %w", t.HostNamespace, err)}
		}
		nsFd = fd
		defer fd.Close()
	}
	target, closeTarget, err := handleFor(t.HostNamespace)
	if err != nil {
		return nil, &HostError{Retval: rvSyscallError3, Err: fmt.Errorf("netlink in %s: %w", t.HostNamespace, err)}
	}
	defer closeTarget()

	name := t.HostIfName
	if name == "" {
		name, err = freeName(target, t.Tun)
		if err != nil {
			return nil, &HostError{Retval: rvSyscallError3, Err: err}
		}
	} else if _, err := target.LinkByName(name); err == nil {
		return nil, &HostError{Retval: rvSyscallError3, Err: fmt.Errorf("TUNSETIFF %s: device or resource busy", name)}
	}

	mode := netlink.TUNTAP_MODE_TAP
	if t.Tun {
		mode = netlink.TUNTAP_MODE_TUN
	}
	tmp := fmt.Sprintf("fv%08x", rand.Uint32())
	link := &netlink.Tuntap{
		LinkAttrs:  netlink.LinkAttrs{Name: tmp},
		Mode:       mode,
		Flags:      netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
		NonPersist: true,
		Queues:     max(t.NumQueues, 1),
	}
	if link.Queues > 1 {
		link.Flags |= netlink.TUNTAP_MULTI_QUEUE_DEFAULTS
	}
	if err := netlink.LinkAdd(link); err != nil {
		return nil, &HostError{Retval: rvSyscallError2, Err: fmt.Errorf("open /dev/net/tun: %w", err)}
	}
	dev := &linuxDevice{link: link, ns: t.HostNamespace, name: name}
	fail := func(err error) (HostDevice, error) {
		_ = dev.Close()
		return nil, &HostError{Retval: rvNetlinkError, Err: err}
	}
	if nsFd >= 0 {
		if err := netlink.LinkSetNsFd(link, int(nsFd)); err != nil {
			return fail(fmt.Errorf("move %s to netns %s: %w", tmp, t.HostNamespace, err))
		}
	}
	l, err := target.LinkByName(tmp)
	if err != nil {
		return fail(err)
	}
	if err := target.LinkSetName(l, name); err != nil {
		return fail(fmt.Errorf("rename to %s: %w", name, err))
	}
	if !t.Tun {
		mac := t.HostMAC
		if mac == nil {
			mac = randomMAC(rand.Uint32())
		}
		if err := target.LinkSetHardwareAddr(l, mac); err != nil {
			return fail(fmt.Errorf("set mac of %s: %w", name, err))
		}
		dev.mac = mac
	}
	if t.HostMTU != 0 {
		if err := target.LinkSetMTU(l, int(t.HostMTU)); err != nil {
			return fail(fmt.Errorf("set mtu of %s: %w", name, err))
		}
	}
	for _, a := range t.HostAddrs {
		// Plain addresses, as VPP's netlink call adds them (IPv6 ones go
		// through duplicate address detection).
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}}
		if err := target.AddrAdd(l, addr); err != nil {
			return fail(fmt.Errorf("add %s to %s: %w", a, name, err))
		}
	}
	if err := target.LinkSetUp(l); err != nil {
		return fail(fmt.Errorf("set %s up: %w", name, err))
	}
	for _, gw := range t.HostGateways {
		r := &netlink.Route{Gw: gw.AsSlice()}
		if err := target.RouteAdd(r); err != nil {
			return fail(fmt.Errorf("add default route via %s: %w", gw, err))
		}
	}
	return dev, nil
}

func freeName(h *netlink.Handle, tun bool) (string, error) {
	prefix := "tap"
	if tun {
		prefix = "tun"
	}
	for n := 0; n < 4096; n++ {
		name := fmt.Sprintf("%s%d", prefix, n)
		if _, err := h.LinkByName(name); err != nil {
			var notFound netlink.LinkNotFoundError
			if errors.As(err, &notFound) {
				return name, nil
			}
		}
	}
	return "", errors.New("no free tap name")
}

// Link implements Host.
func (LinuxHost) Link(ns, name string) (LinkInfo, bool, error) {
	h, done, err := handleFor(ns)
	if err != nil {
		return LinkInfo{}, false, err
	}
	defer done()
	l, err := h.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return LinkInfo{}, false, nil
		}
		return LinkInfo{}, false, err
	}
	return LinkInfo{MTU: l.Attrs().MTU, MAC: l.Attrs().HardwareAddr}, true, nil
}

// SetLinkUp implements Host.
func (LinuxHost) SetLinkUp(ns, name string) error {
	h, done, err := handleFor(ns)
	if err != nil {
		return err
	}
	defer done()
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

type linuxDevice struct {
	link *netlink.Tuntap
	ns   string
	name string
	mac  net.HardwareAddr
}

func (d *linuxDevice) Name() string          { return d.name }
func (d *linuxDevice) MAC() net.HardwareAddr { return d.mac }

// Close closes the queue fds: the kernel then removes the non-persistent
// device wherever it lives.
func (d *linuxDevice) Close() error {
	var errs []error
	for _, f := range d.link.Fds {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	d.link.Fds = nil
	return errors.Join(errs...)
}
