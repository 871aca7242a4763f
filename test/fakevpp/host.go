package fakevpp

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// HostTap is the Linux side of a tap/tun VPP creates: the kernel device in
// HostNamespace named HostIfName.
type HostTap struct {
	Tun           bool
	HostNamespace string // "" is VPP's own namespace
	HostIfName    string
	HostMAC       net.HardwareAddr // tap only; nil: random
	HostMTU       uint32           // 0: kernel default
	HostAddrs     []netip.Prefix
	HostGateways  []netip.Addr // a default route via each is added in the namespace
	NumQueues     int
}

// HostError is a failed host operation with the retval VPP reports for it.
type HostError struct {
	Retval int32
	Err    error
}

func (e *HostError) Error() string { return fmt.Sprintf("%v (retval %d)", e.Err, e.Retval) }

// Host performs what VPP does to Linux. Implementations must be safe for
// use under the engine's lock (they are called with it held).
type Host interface {
	// CreateTap creates the device and returns a handle whose Close
	// removes it. The returned name is the device's actual name.
	CreateTap(t HostTap) (HostDevice, error)
	// Link reports a host interface of VPP's own namespace (or of netns),
	// as AF_PACKET / AF_XDP open it; found is false when it is missing.
	Link(netns, name string) (info LinkInfo, found bool, err error)
	// SetLinkUp brings a host interface of VPP's namespace up (AF_PACKET
	// does so).
	SetLinkUp(netns, name string) error
}

// HostDevice is a created tap/tun.
type HostDevice interface {
	Name() string
	MAC() net.HardwareAddr
	Close() error
}

// LinkInfo describes a host interface.
type LinkInfo struct {
	MTU int
	MAC net.HardwareAddr
}

// MemHost is an in-memory Host for unit tests: it records devices and
// knows the links it is told about.
type MemHost struct {
	mu      sync.Mutex
	links   map[string]LinkInfo // "netns/name"
	devices map[string]*memDevice
}

// NewMemHost returns a MemHost that knows the given links of VPP's own
// namespace (each with MTU 1500).
func NewMemHost(links ...string) *MemHost {
	h := &MemHost{links: map[string]LinkInfo{}, devices: map[string]*memDevice{}}
	for _, l := range links {
		h.AddLink("", l, LinkInfo{MTU: 1500, MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, byte(len(h.links) + 1)}})
	}
	return h
}

// AddLink makes a host interface exist.
func (h *MemHost) AddLink(netns, name string, info LinkInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.links[netns+"/"+name] = info
}

// Devices returns the names ("netns/name") of the taps that exist.
func (h *MemHost) Devices() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.devices {
		out = append(out, k)
	}
	return out
}

// CreateTap implements Host.
func (h *MemHost) CreateTap(t HostTap) (HostDevice, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name := t.HostIfName
	if name == "" {
		prefix := "tap"
		if t.Tun {
			prefix = "tun"
		}
		for n := 0; ; n++ {
			name = fmt.Sprintf("%s%d", prefix, n)
			if _, used := h.devices[t.HostNamespace+"/"+name]; !used {
				break
			}
		}
	}
	k := t.HostNamespace + "/" + name
	if _, used := h.devices[k]; used {
		return nil, &HostError{Retval: rvSyscallError3, Err: fmt.Errorf("TUNSETIFF %s: device or resource busy", name)}
	}
	if _, used := h.links[k]; used {
		return nil, &HostError{Retval: rvSyscallError3, Err: fmt.Errorf("TUNSETIFF %s: device or resource busy", name)}
	}
	mac := t.HostMAC
	if mac == nil && !t.Tun {
		mac = randomMAC(uint32(len(h.devices) + 1))
	}
	d := &memDevice{host: h, key: k, name: name, mac: mac}
	h.devices[k] = d
	return d, nil
}

// Link implements Host.
func (h *MemHost) Link(netns, name string) (LinkInfo, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	info, ok := h.links[netns+"/"+name]
	return info, ok, nil
}

// SetLinkUp implements Host.
func (h *MemHost) SetLinkUp(string, string) error { return nil }

type memDevice struct {
	host *MemHost
	key  string
	name string
	mac  net.HardwareAddr
}

func (d *memDevice) Name() string          { return d.name }
func (d *memDevice) MAC() net.HardwareAddr { return d.mac }
func (d *memDevice) Close() error {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	delete(d.host.devices, d.key)
	return nil
}
