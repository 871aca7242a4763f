// Package linuxstate captures an uplink's Linux configuration before VPP
// takes it over, persists it, and puts it back when VPP exits. It is the
// part of vpp-manager that keeps a node reachable: the state is saved
// (atomically) before anything is touched, so that even a killed
// vpp-manager is followed by a restore at the next start.
package linuxstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/calico-vpp/calico-vpp/pkg/atomicfile"
)

// Address is an interface address.
type Address struct {
	Prefix netip.Prefix `json:"prefix"`
	// Peer is set for point-to-point addresses.
	Peer netip.Prefix `json:"peer,omitzero"`
	// Flags keeps the IFA_F_* flags that change behaviour on restore
	// (noprefixroute, nodad, mngtmpaddr).
	Flags int `json:"flags,omitempty"`
}

// keptAddrFlags are the address flags worth restoring.
const keptAddrFlags = unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_NODAD | unix.IFA_F_MANAGETEMPADDR

// Route is a route through the uplink (the default gateway included).
// Kernel-made routes (connected subnets, IPv6 link-local and multicast)
// are not captured: the kernel re-creates them with the addresses.
type Route struct {
	Dst      netip.Prefix `json:"dst"`
	Gw       netip.Addr   `json:"gw,omitzero"`
	Src      netip.Addr   `json:"src,omitzero"`
	Table    int          `json:"table,omitempty"`
	Priority int          `json:"priority,omitempty"`
	Protocol int          `json:"protocol,omitempty"`
	Scope    int          `json:"scope,omitempty"`
	OnLink   bool         `json:"onlink,omitempty"`
	// MultiPath holds an ECMP route's next hops (Gw and OnLink are then
	// unused). At least one of them is on the uplink.
	MultiPath []NextHop `json:"multipath,omitempty"`
}

// NextHop is one path of a multipath route.
type NextHop struct {
	Gw netip.Addr `json:"gw,omitzero"`
	// Dev names the path's link when it is another interface than the
	// uplink (ECMP across the uplink and, say, a second NIC).
	Dev    string `json:"dev,omitempty"`
	Weight int    `json:"weight,omitempty"` // 1-256 as in `ip route`; 0 means 1
	OnLink bool   `json:"onlink,omitempty"`
}

func (r Route) String() string {
	s := r.Dst.String()
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	for _, nh := range r.MultiPath {
		s += " nexthop"
		if nh.Gw.IsValid() {
			s += " via " + nh.Gw.String()
		}
		if nh.Dev != "" {
			s += " dev " + nh.Dev
		}
		if nh.Weight > 1 {
			s += fmt.Sprintf(" weight %d", nh.Weight)
		}
	}
	return s
}

// Uplink is one interface's Linux state.
type Uplink struct {
	Name        string    `json:"name"`
	MAC         string    `json:"mac"`
	MTU         int       `json:"mtu"`
	Up          bool      `json:"up"`
	Promisc     bool      `json:"promisc"`
	Addresses   []Address `json:"addresses"`
	Routes      []Route   `json:"routes"`
	Driver      string    `json:"driver,omitempty"`
	PCI         string    `json:"pci,omitempty"`
	NumRxQueues int       `json:"numRxQueues"`
	NumTxQueues int       `json:"numTxQueues"`
}

// HardwareAddr parses MAC.
func (u *Uplink) HardwareAddr() net.HardwareAddr {
	mac, _ := net.ParseMAC(u.MAC)
	return mac
}

// HasIPv4 and HasIPv6 report the families the uplink has addresses of.
func (u *Uplink) HasIPv4() bool { return u.hasFamily(false) }

// HasIPv6 reports whether the uplink has a global IPv6 address.
func (u *Uplink) HasIPv6() bool { return u.hasFamily(true) }

func (u *Uplink) hasFamily(is6 bool) bool {
	for _, a := range u.Addresses {
		if a.Prefix.Addr().Is6() == is6 {
			return true
		}
	}
	return false
}

// SysFS reads the attributes Linux exposes under /sys/class/net (a fake
// tree in tests).
type SysFS interface {
	// Readlink resolves a symlink relative to the sysfs root.
	Readlink(path string) (string, error)
	// Glob lists paths relative to the sysfs root.
	Glob(pattern string) ([]string, error)
}

// RootSysFS is the real /sys.
type RootSysFS struct{ Root string }

// Readlink implements SysFS.
func (s RootSysFS) Readlink(p string) (string, error) { return os.Readlink(filepath.Join(s.root(), p)) }

// Glob implements SysFS.
func (s RootSysFS) Glob(pattern string) ([]string, error) {
	return filepath.Glob(filepath.Join(s.root(), pattern))
}

func (s RootSysFS) root() string {
	if s.Root == "" {
		return "/sys"
	}
	return s.Root
}

// Capture reads the uplink's state through h (a netlink handle in the
// namespace the uplink lives in) and sys.
func Capture(h *netlink.Handle, sys SysFS, name string) (*Uplink, error) {
	link, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find uplink %s: %w", name, err)
	}
	attrs := link.Attrs()
	u := &Uplink{
		Name:    name,
		MAC:     attrs.HardwareAddr.String(),
		MTU:     attrs.MTU,
		Up:      attrs.Flags&net.FlagUp != 0,
		Promisc: attrs.Promisc != 0,
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if !ok || (p.Addr().Is6() && p.Addr().IsLinkLocalUnicast()) {
			continue // the kernel makes IPv6 link-local addresses itself
		}
		addr := Address{Prefix: p, Flags: a.Flags & keptAddrFlags}
		if a.Peer != nil {
			if peer, ok := prefixOf(a.Peer); ok && peer != p {
				addr.Peer = peer
			}
		}
		u.Addresses = append(u.Addresses, addr)
	}
	// Every table, every link: a multipath route has no single output
	// interface, so the kernel's OIF filter would miss ECMP routes.
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", name, err)
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_KERNEL || r.Table == unix.RT_TABLE_LOCAL || r.Type != unix.RTN_UNICAST {
			continue
		}
		if !routeUses(r, attrs.Index) {
			continue
		}
		route := Route{Table: r.Table, Priority: r.Priority, Protocol: int(r.Protocol), Scope: int(r.Scope), OnLink: r.Flags&unix.RTNH_F_ONLINK != 0}
		if r.Dst != nil {
			route.Dst, _ = prefixOf(r.Dst)
		} else if r.Family == netlink.FAMILY_V6 {
			route.Dst = netip.MustParsePrefix("::/0")
		} else {
			route.Dst = netip.MustParsePrefix("0.0.0.0/0")
		}
		if r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() && route.Dst.Addr().Is6() {
			continue
		}
		if r.Gw != nil {
			route.Gw, _ = netip.AddrFromSlice(r.Gw)
			route.Gw = route.Gw.Unmap()
		}
		if r.Src != nil {
			route.Src, _ = netip.AddrFromSlice(r.Src)
			route.Src = route.Src.Unmap()
		}
		for _, nh := range r.MultiPath {
			hop := NextHop{Weight: nh.Hops + 1, OnLink: nh.Flags&unix.RTNH_F_ONLINK != 0}
			if nh.Gw != nil {
				hop.Gw, _ = netip.AddrFromSlice(nh.Gw)
				hop.Gw = hop.Gw.Unmap()
			}
			if nh.LinkIndex != attrs.Index {
				other, err := h.LinkByIndex(nh.LinkIndex)
				if err != nil {
					return nil, fmt.Errorf("route %s of %s: next hop link %d: %w", route.Dst, name, nh.LinkIndex, err)
				}
				hop.Dev = other.Attrs().Name
			}
			route.MultiPath = append(route.MultiPath, hop)
		}
		if route.Table == unix.RT_TABLE_MAIN {
			route.Table = 0
		}
		u.Routes = append(u.Routes, route)
	}
	sort.SliceStable(u.Routes, func(i, j int) bool { return u.Routes[i].Dst.Bits() > u.Routes[j].Dst.Bits() })
	u.readSysFS(sys)
	return u, nil
}

// routeUses reports whether r leaves through link index: its output
// interface, or one of its next hops.
func routeUses(r netlink.Route, index int) bool {
	if len(r.MultiPath) == 0 {
		return r.LinkIndex == index
	}
	for _, nh := range r.MultiPath {
		if nh.LinkIndex == index {
			return true
		}
	}
	return false
}

func (u *Uplink) readSysFS(sys SysFS) {
	if sys == nil {
		return
	}
	if target, err := sys.Readlink("class/net/" + u.Name + "/device/driver"); err == nil {
		u.Driver = filepath.Base(target)
	}
	if target, err := sys.Readlink("class/net/" + u.Name + "/device"); err == nil {
		if base := filepath.Base(target); looksLikePCI(base) {
			u.PCI = base
		}
	}
	if rx, err := sys.Glob("class/net/" + u.Name + "/queues/rx-*"); err == nil {
		u.NumRxQueues = len(rx)
	}
	if tx, err := sys.Glob("class/net/" + u.Name + "/queues/tx-*"); err == nil {
		u.NumTxQueues = len(tx)
	}
}

func looksLikePCI(s string) bool {
	var d, b, sl, f int
	n, err := fmt.Sscanf(s, "%04x:%02x:%02x.%1x", &d, &b, &sl, &f)
	return err == nil && n == 4
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Saved is the file vpp-manager writes before it touches an uplink.
type Saved struct {
	Version int      `json:"version"`
	Uplinks []Uplink `json:"uplinks"`
}

const savedVersion = 1

// Save writes the uplinks' state to path atomically (temp file, fsync,
// rename), so a crash leaves either the old file or the new one.
func Save(path string, uplinks []Uplink) error {
	b, err := json.MarshalIndent(Saved{Version: savedVersion, Uplinks: uplinks}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("save uplink state: %w", err)
	}
	return nil
}

// Load reads a saved state; found is false when there is none.
func Load(path string) (uplinks []Uplink, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read saved uplink state: %w", err)
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false, fmt.Errorf("decode saved uplink state %s: %w", path, err)
	}
	if s.Version != savedVersion {
		return nil, false, fmt.Errorf("saved uplink state %s has version %d, want %d", path, s.Version, savedVersion)
	}
	return s.Uplinks, true, nil
}

// Apply configures the link named name with the uplink's addresses and
// routes (vpp-manager gives them to vpptap0 so that the host keeps its
// connectivity through VPP). The link is brought up first.
func Apply(h *netlink.Handle, name string, u *Uplink) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("configure %s: %w", name, err)
	}
	var errs []error
	if err := h.LinkSetUp(link); err != nil {
		errs = append(errs, fmt.Errorf("set %s up: %w", name, err))
	}
	for _, a := range u.Addresses {
		addr := &netlink.Addr{IPNet: ipNet(a.Prefix), Flags: a.Flags}
		if a.Peer.IsValid() {
			addr.Peer = ipNet(a.Peer)
		}
		if a.Prefix.Addr().Is6() {
			addr.Flags |= unix.IFA_F_NODAD
		}
		if err := h.AddrReplace(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", a.Prefix, name, err))
		}
	}
	for _, r := range u.Routes {
		nr, err := r.netlink(h, link.Attrs().Index)
		if err == nil {
			err = h.RouteReplace(nr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("add route %s on %s: %w", r, name, err))
		}
	}
	return errors.Join(errs...)
}

// Restore puts the uplink's saved state back on the link named u.Name
// (reached through h): MTU, MAC, promiscuous flag, exactly the saved
// addresses, up/down, then the routes. It does as much as it can and
// reports every failure.
func Restore(h *netlink.Handle, u *Uplink) error {
	link, err := h.LinkByName(u.Name)
	if err != nil {
		return fmt.Errorf("restore %s: find link: %w", u.Name, err)
	}
	var errs []error
	fail := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %s: %w", u.Name, what, err))
		}
	}
	if link.Attrs().MTU != u.MTU {
		fail("set mtu", h.LinkSetMTU(link, u.MTU))
	}
	if mac := u.HardwareAddr(); mac != nil && link.Attrs().HardwareAddr.String() != mac.String() {
		fail("set mac", h.LinkSetHardwareAddr(link, mac))
	}
	if u.Promisc {
		fail("set promisc", h.SetPromiscOn(link))
	} else {
		fail("clear promisc", h.SetPromiscOff(link))
	}
	// Addresses: exactly the saved global ones.
	current, err := h.AddrList(link, netlink.FAMILY_ALL)
	fail("list addresses", err)
	want := map[netip.Prefix]Address{}
	for _, a := range u.Addresses {
		want[a.Prefix] = a
	}
	for _, a := range current {
		p, ok := prefixOf(a.IPNet)
		if !ok || (p.Addr().Is6() && p.Addr().IsLinkLocalUnicast()) {
			continue
		}
		if _, keep := want[p]; keep {
			delete(want, p)
			continue
		}
		a := a
		fail("remove address "+p.String(), h.AddrDel(link, &a))
	}
	for _, a := range u.Addresses {
		if _, missing := want[a.Prefix]; !missing {
			continue
		}
		addr := &netlink.Addr{IPNet: ipNet(a.Prefix), Flags: a.Flags}
		if a.Peer.IsValid() {
			addr.Peer = ipNet(a.Peer)
		}
		// Exactly the saved flags: an address restored without nodad goes
		// through duplicate address detection, as it did at boot.
		fail("add address "+a.Prefix.String(), h.AddrAdd(link, addr))
	}
	if u.Up {
		fail("set up", h.LinkSetUp(link))
	} else {
		fail("set down", h.LinkSetDown(link))
	}
	for _, r := range u.Routes {
		nr, err := r.netlink(h, link.Attrs().Index)
		if err == nil {
			err = h.RouteReplace(nr)
		}
		fail("add route "+r.String(), err)
	}
	return errors.Join(errs...)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// netlink builds the kernel route through the link linkIndex; next hops
// on other links are found by name in h.
func (r Route) netlink(h *netlink.Handle, linkIndex int) (*netlink.Route, error) {
	out := &netlink.Route{LinkIndex: linkIndex, Dst: ipNet(r.Dst), Priority: r.Priority, Protocol: netlink.RouteProtocol(r.Protocol),
		Scope: netlink.Scope(r.Scope), Table: r.Table}
	if r.Gw.IsValid() {
		out.Gw = r.Gw.AsSlice()
	}
	if r.Src.IsValid() {
		out.Src = r.Src.AsSlice()
	}
	if r.OnLink {
		out.Flags |= unix.RTNH_F_ONLINK
	}
	if len(r.MultiPath) == 0 {
		return out, nil
	}
	out.LinkIndex = 0 // the next hops carry the links
	for _, nh := range r.MultiPath {
		hop := &netlink.NexthopInfo{LinkIndex: linkIndex, Hops: max(nh.Weight, 1) - 1}
		if nh.Dev != "" {
			other, err := h.LinkByName(nh.Dev)
			if err != nil {
				return nil, fmt.Errorf("next hop device %s: %w", nh.Dev, err)
			}
			hop.LinkIndex = other.Attrs().Index
		}
		if nh.Gw.IsValid() {
			hop.Gw = nh.Gw.AsSlice()
		}
		if nh.OnLink {
			hop.Flags |= unix.RTNH_F_ONLINK
		}
		out.MultiPath = append(out.MultiPath, hop)
	}
	return out, nil
}
