package fakevpp

import (
	"net"
	"net/netip"
	"sort"

	"go.fd.io/govpp/binapi/fib_types"
)

const invalidIndex = ^uint32(0)

type ifKind int

const (
	kindLocal ifKind = iota
	kindTap
	kindTun
	kindAFPacket
	kindAFXDP
	kindAVF
	kindVirtio
	kindDPDK
	kindIPIP
	kindVXLAN
	kindLoopback
)

// iface is one software interface.
type iface struct {
	idx          uint32
	kind         ifKind
	name         string
	devType      string
	tag          string
	adminUp      bool
	linkUp       bool
	mtu          [4]uint32
	linkMTU      uint16
	mac          net.HardwareAddr // nil for L3 interfaces
	table        [2]uint32        // bound VRF per family (0: ip4, 1: ip6)
	addrs        [2][]netip.Prefix
	unnumberedOf uint32
	ip6Locks     int
	gso          bool
	rxMode       uint32
	features     map[string]bool
	proxyARP     bool
	ndProxy      bool
	loopInstance uint32
	linkLocal    netip.Addr

	tap   *tapState
	afp   *afPacketState
	xdp   *afXDPState
	pci   string
	ipip  *ipipState
	vxlan *vxlanState
}

func family(is6 bool) int {
	if is6 {
		return 1
	}
	return 0
}

// fibKey names a table.
type fibKey struct {
	id  uint32
	is6 bool
}

// fib is one table; only API-sourced routes are stored: connected,
// adjacency and special entries are derived from the rest of the state
// when dumped, which is what VPP's FIB sources amount to.
type fib struct {
	name string
	api  map[netip.Prefix][]fib_types.FibPath
}

type nbrKey struct {
	swIfIndex uint32
	ip        netip.Addr
}

type neighbor struct {
	mac   net.HardwareAddr
	flags uint8
}

type proxyARPRange struct {
	table   uint32
	low, hi netip.Addr
}

type ndProxyKey struct {
	swIfIndex uint32
	ip        netip.Addr
}

type state struct {
	ifPool     pool[iface]
	ifs        map[uint32]*iface
	fibs       map[fibKey]*fib
	neighbors  map[nbrKey]*neighbor
	punts      map[puntKey][]fib_types.FibPath
	proxyARPs  []proxyARPRange
	ndProxies  map[ndProxyKey]bool
	tapIDs     bitmap
	loopIDs    bitmap
	ipipInst   map[uint32]bool
	vxlanInst  map[uint32]bool
	tunnelPool pool[struct{}]
	vxlanPool  pool[struct{}]
	xdpPool    pool[struct{}]
	acl        aclState
	cnat       cnatState

	replaceStale map[ifAddrKey]bool // between address_replace_begin and _end
	statsIndex   uint32
	tracing      bool // trace add ran
	pcapOn       bool // pcap trace on
	dispatchOn   bool // pcap dispatch trace on
}

type puntKey struct {
	rx  uint32
	is6 bool
}

func newState() state {
	st := state{
		ifs:       map[uint32]*iface{},
		fibs:      map[fibKey]*fib{},
		neighbors: map[nbrKey]*neighbor{},
		punts:     map[puntKey][]fib_types.FibPath{},
		ndProxies: map[ndProxyKey]bool{},
		tapIDs:    bitmap{},
		loopIDs:   bitmap{},
		ipipInst:  map[uint32]bool{},
		vxlanInst: map[uint32]bool{},
		acl:       newACLState(),
		cnat:      newCnatState(),
	}
	// local0 is sw_if_index 0 (src/vnet/interface.c).
	local := st.newIface(kindLocal, "local0", "local")
	local.mtu = [4]uint32{0, 0, 0, 0}
	local.linkMTU = 0
	st.fibs[fibKey{0, false}] = &fib{name: "ipv4-VRF:0", api: map[netip.Prefix][]fib_types.FibPath{}}
	st.fibs[fibKey{0, true}] = &fib{name: "ipv6-VRF:0", api: map[netip.Prefix][]fib_types.FibPath{}}
	return st
}

// newIface allocates a sw_if_index (LIFO reuse) with VPP's defaults for an
// ethernet-class interface: MTU 9000, link up, admin down.
func (st *state) newIface(kind ifKind, name, devType string) *iface {
	idx := st.ifPool.get()
	i := &iface{
		idx: idx, kind: kind, name: name, devType: devType,
		mtu: [4]uint32{9000, 0, 0, 0}, linkMTU: 9000, unnumberedOf: invalidIndex,
		features: map[string]bool{},
	}
	st.ifs[idx] = i
	return i
}

func (st *state) iface(idx uint32) (*iface, bool) {
	i, ok := st.ifs[idx]
	return i, ok
}

// deleteIface applies VPP's interface-delete side effects
// (vnet_delete_sw_interface and the ip4/ip6/acl/neighbor hooks): tag
// cleared, addresses and their connected routes gone, unnumbered and table
// bindings reset, ACL bindings and neighbors removed. API routes through
// the interface stay (their paths now drop).
func (st *state) deleteIface(i *iface) {
	for k := range st.neighbors {
		if k.swIfIndex == i.idx {
			delete(st.neighbors, k)
		}
	}
	for k := range st.ndProxies {
		if k.swIfIndex == i.idx {
			delete(st.ndProxies, k)
		}
	}
	for _, other := range st.ifs {
		if other.unnumberedOf == i.idx {
			other.unnumberedOf = invalidIndex
		}
	}
	st.acl.unbind(i.idx)
	st.cnat.forgetInterface(i.idx)
	delete(st.ifs, i.idx)
	st.ifPool.put(i.idx)
}

// sortedIfaces returns interfaces in pool (sw_if_index) order.
func (st *state) sortedIfaces() []*iface {
	out := make([]*iface, 0, len(st.ifs))
	for _, i := range st.ifs {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].idx < out[b].idx })
	return out
}

func (st *state) ifaceByName(name string) (*iface, bool) {
	for _, i := range st.ifs {
		if i.name == name {
			return i, true
		}
	}
	return nil, false
}

// randomMAC returns a locally administered MAC in VPP's 02:fe:xx style.
func randomMAC(seed uint32) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xfe, byte(seed >> 24), byte(seed >> 16), byte(seed >> 8), byte(seed)}
}
