package vpplink

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"go.fd.io/govpp/binapi/arp"
	"go.fd.io/govpp/binapi/fib_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip6_nd"
	"go.fd.io/govpp/binapi/ip_neighbor"
	"go.fd.io/govpp/binapi/ip_types"
)

// Table is an IP VRF.
type Table struct {
	ID   uint32
	IPv6 bool
	Name string
}

func (t Table) String() string { return fmt.Sprintf("%s table %d", ipFamily(t.IPv6), t.ID) }

// AddTable creates a VRF. Re-adding an existing one is a no-op (VPP keeps
// its first name).
func (v *VPP) AddTable(ctx context.Context, t Table) error {
	_, err := ip.NewServiceClient(v.conn).IPTableAddDel(ctx, &ip.IPTableAddDel{IsAdd: true, Table: ip.IPTable{TableID: t.ID, IsIP6: t.IPv6, Name: t.Name}})
	return wrap("add table", t.String(), err)
}

// DelTable releases the VRF. VPP destroys it once nothing else holds it
// (an interface binding keeps it); its API routes are not flushed first.
func (v *VPP) DelTable(ctx context.Context, t Table) error {
	_, err := ip.NewServiceClient(v.conn).IPTableAddDel(ctx, &ip.IPTableAddDel{IsAdd: false, Table: ip.IPTable{TableID: t.ID, IsIP6: t.IPv6}})
	return wrap("delete table", t.String(), err)
}

// Tables lists every VRF of both families.
func (v *VPP) Tables(ctx context.Context) ([]Table, error) {
	stream, err := ip.NewServiceClient(v.conn).IPTableDump(ctx, &ip.IPTableDump{})
	if err != nil {
		return nil, wrap("dump tables", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump tables", "", err)
	}
	out := make([]Table, 0, len(details))
	for _, d := range details {
		out = append(out, Table{ID: d.Table.TableID, IPv6: d.Table.IsIP6, Name: d.Table.Name})
	}
	return out, nil
}

// PathType says what a route path does.
type PathType uint8

// Path types.
const (
	// PathNormal forwards to Gateway and/or SwIfIndex.
	PathNormal PathType = iota
	// PathDrop drops.
	PathDrop
	// PathLocal delivers to VPP itself.
	PathLocal
	// PathLookup looks the destination up again in Table.
	PathLookup
)

// RoutePath is one path of a route.
type RoutePath struct {
	Type       PathType
	Gateway    netip.Addr // zero Addr: attached (no next hop)
	SwIfIndex  SwIfIndex  // InvalidSwIfIndex or 0: none, resolve through the FIB (local0 never carries routes)
	Table      uint32     // PathLookup only
	Weight     uint8      // 0 means 1
	Preference uint8
}

func (p RoutePath) String() string {
	switch p.Type {
	case PathDrop:
		return "drop"
	case PathLocal:
		return "local"
	case PathLookup:
		return fmt.Sprintf("lookup in table %d", p.Table)
	}
	var parts []string
	if p.Gateway.IsValid() {
		parts = append(parts, "via "+p.Gateway.String())
	}
	if p.SwIfIndex != InvalidSwIfIndex {
		parts = append(parts, fmt.Sprintf("if %d", p.SwIfIndex))
	}
	if p.Weight > 1 {
		parts = append(parts, fmt.Sprintf("weight %d", p.Weight))
	}
	return strings.Join(parts, " ")
}

// Route is a FIB entry: a prefix in a table and its paths.
type Route struct {
	Table  uint32
	Prefix netip.Prefix
	Paths  []RoutePath
}

func (r Route) String() string {
	paths := make([]string, len(r.Paths))
	for i, p := range r.Paths {
		paths[i] = p.String()
	}
	return fmt.Sprintf("%s in table %d [%s]", r.Prefix, r.Table, strings.Join(paths, ", "))
}

func toFibPath(p RoutePath, is6 bool) fib_types.FibPath {
	sw := p.SwIfIndex
	if sw == 0 {
		sw = InvalidSwIfIndex
	}
	out := fib_types.FibPath{
		SwIfIndex:  uint32(sw),
		Weight:     p.Weight,
		Preference: p.Preference,
		Proto:      fib_types.FIB_API_PATH_NH_PROTO_IP4,
	}
	if is6 {
		out.Proto = fib_types.FIB_API_PATH_NH_PROTO_IP6
	}
	if out.Weight == 0 {
		out.Weight = 1
	}
	switch p.Type {
	case PathDrop:
		out.Type = fib_types.FIB_API_PATH_TYPE_DROP
		out.SwIfIndex = uint32(InvalidSwIfIndex)
	case PathLocal:
		out.Type = fib_types.FIB_API_PATH_TYPE_LOCAL
		out.SwIfIndex = uint32(InvalidSwIfIndex)
	case PathLookup:
		// No next hop and no interface: VPP resolves by a lookup in TableID.
		out.SwIfIndex = uint32(InvalidSwIfIndex)
		out.TableID = p.Table
	default:
		if p.Gateway.IsValid() {
			out.Nh.Address = toAddress(p.Gateway).Un
			if p.Gateway.Is6() {
				out.Proto = fib_types.FIB_API_PATH_NH_PROTO_IP6
			} else {
				out.Proto = fib_types.FIB_API_PATH_NH_PROTO_IP4
			}
		}
	}
	return out
}

func fromFibPath(p fib_types.FibPath) RoutePath {
	out := RoutePath{SwIfIndex: SwIfIndex(p.SwIfIndex), Weight: p.Weight, Preference: p.Preference}
	switch p.Type {
	case fib_types.FIB_API_PATH_TYPE_DROP:
		out.Type = PathDrop
		return out
	case fib_types.FIB_API_PATH_TYPE_LOCAL:
		out.Type = PathLocal
		return out
	}
	var zero ip_types.AddressUnion
	if p.Nh.Address != zero {
		if p.Proto == fib_types.FIB_API_PATH_NH_PROTO_IP6 {
			out.Gateway = netip.AddrFrom16(p.Nh.Address.GetIP6())
		} else {
			out.Gateway = netip.AddrFrom4(p.Nh.Address.GetIP4())
		}
	}
	if !out.Gateway.IsValid() && out.SwIfIndex == InvalidSwIfIndex {
		out.Type = PathLookup
		out.Table = p.TableID
	}
	return out
}

func toIPRoute(r Route) ip.IPRoute {
	is6 := r.Prefix.Addr().Is6()
	paths := make([]fib_types.FibPath, len(r.Paths))
	for i, p := range r.Paths {
		paths[i] = toFibPath(p, is6)
	}
	return ip.IPRoute{TableID: r.Table, Prefix: toPrefix(r.Prefix), NPaths: uint8(len(paths)), Paths: paths}
}

func fromIPRoute(r ip.IPRoute) Route {
	out := Route{Table: r.TableID, Prefix: fromPrefix(r.Prefix), Paths: make([]RoutePath, len(r.Paths))}
	for i, p := range r.Paths {
		out.Paths[i] = fromFibPath(p)
	}
	return out
}

// routeRequest builds the ip_route_add_del for a route. isAdd without
// multipath replaces the route's paths with r.Paths.
func routeRequest(r Route, isAdd bool) *ip.IPRouteAddDel {
	return &ip.IPRouteAddDel{IsAdd: isAdd, Route: toIPRoute(r)}
}

// AddRoute adds or replaces a route: afterwards the prefix has exactly
// r.Paths.
func (v *VPP) AddRoute(ctx context.Context, r Route) error {
	_, err := ip.NewServiceClient(v.conn).IPRouteAddDel(ctx, routeRequest(r, true))
	return wrap("add route", r.String(), err)
}

// DelRoute deletes the route to r.Prefix in r.Table (its paths are ignored).
func (v *VPP) DelRoute(ctx context.Context, r Route) error {
	req := routeRequest(Route{Table: r.Table, Prefix: r.Prefix}, false)
	_, err := ip.NewServiceClient(v.conn).IPRouteAddDel(ctx, req)
	return wrap("delete route", fmt.Sprintf("%s in table %d", r.Prefix, r.Table), err)
}

// AddRoutePath adds one path to a route (ECMP), keeping its other paths.
func (v *VPP) AddRoutePath(ctx context.Context, table uint32, prefix netip.Prefix, p RoutePath) error {
	r := Route{Table: table, Prefix: prefix, Paths: []RoutePath{p}}
	_, err := ip.NewServiceClient(v.conn).IPRouteAddDel(ctx, &ip.IPRouteAddDel{IsAdd: true, IsMultipath: true, Route: toIPRoute(r)})
	return wrap("add route path", r.String(), err)
}

// DelRoutePath removes one path of a route; the route goes with its last path.
func (v *VPP) DelRoutePath(ctx context.Context, table uint32, prefix netip.Prefix, p RoutePath) error {
	r := Route{Table: table, Prefix: prefix, Paths: []RoutePath{p}}
	_, err := ip.NewServiceClient(v.conn).IPRouteAddDel(ctx, &ip.IPRouteAddDel{IsAdd: false, IsMultipath: true, Route: toIPRoute(r)})
	return wrap("delete route path", r.String(), err)
}

// Routes dumps every route of a table, VPP's own entries included.
func (v *VPP) Routes(ctx context.Context, t Table) ([]Route, error) {
	stream, err := ip.NewServiceClient(v.conn).IPRouteDump(ctx, &ip.IPRouteDump{Table: ip.IPTable{TableID: t.ID, IsIP6: t.IPv6}})
	if err != nil {
		return nil, wrap("dump routes", t.String(), err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump routes", t.String(), err)
	}
	out := make([]Route, 0, len(details))
	for _, d := range details {
		out = append(out, fromIPRoute(d.Route))
	}
	return out, nil
}

// Neighbor is a static ARP/ND entry.
type Neighbor struct {
	SwIfIndex SwIfIndex
	IP        netip.Addr
	MAC       net.HardwareAddr
	NoFIB     bool // do not install the /32 or /128 adjacency route
}

func (n Neighbor) String() string { return fmt.Sprintf("%s at %s on %d", n.IP, n.MAC, n.SwIfIndex) }

// AddNeighbor adds (or updates) a static neighbor.
func (v *VPP) AddNeighbor(ctx context.Context, n Neighbor) error {
	return v.neighbor(ctx, n, true)
}

// DelNeighbor deletes a neighbor.
func (v *VPP) DelNeighbor(ctx context.Context, n Neighbor) error {
	return v.neighbor(ctx, n, false)
}

func (v *VPP) neighbor(ctx context.Context, n Neighbor, add bool) error {
	flags := ip_neighbor.IP_API_NEIGHBOR_FLAG_STATIC
	if n.NoFIB {
		flags |= ip_neighbor.IP_API_NEIGHBOR_FLAG_NO_FIB_ENTRY
	}
	_, err := ip_neighbor.NewServiceClient(v.conn).IPNeighborAddDel(ctx, &ip_neighbor.IPNeighborAddDel{
		IsAdd:    add,
		Neighbor: ip_neighbor.IPNeighbor{SwIfIndex: n.SwIfIndex.api(), Flags: flags, MacAddress: toMAC(n.MAC), IPAddress: toAddress(n.IP)},
	})
	op := "add neighbor"
	if !add {
		op = "delete neighbor"
	}
	return wrap(op, n.String(), err)
}

// Neighbors dumps the neighbors of one family (of all interfaces when idx
// is InvalidSwIfIndex).
func (v *VPP) Neighbors(ctx context.Context, idx SwIfIndex, is6 bool) ([]Neighbor, error) {
	stream, err := ip_neighbor.NewServiceClient(v.conn).IPNeighborDump(ctx, &ip_neighbor.IPNeighborDump{SwIfIndex: idx.api(), Af: toAF(is6)})
	if err != nil {
		return nil, wrap("dump neighbors", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump neighbors", "", err)
	}
	out := make([]Neighbor, 0, len(details))
	for _, d := range details {
		n := d.Neighbor
		out = append(out, Neighbor{SwIfIndex: SwIfIndex(n.SwIfIndex), IP: fromAddress(n.IPAddress), MAC: fromMAC(n.MacAddress),
			NoFIB: n.Flags&ip_neighbor.IP_API_NEIGHBOR_FLAG_NO_FIB_ENTRY != 0})
	}
	return out, nil
}

// PuntRedirect sends traffic punted to VPP from RxSwIfIndex (or from any
// interface with InvalidSwIfIndex; VPP keeps "any" in local0's slot, so 0
// means the same) to the host through Paths.
type PuntRedirect struct {
	RxSwIfIndex SwIfIndex
	IPv6        bool
	Paths       []RoutePath
}

// AddPuntRedirect installs a punt redirect (host-bound traffic to the tap).
func (v *VPP) AddPuntRedirect(ctx context.Context, p PuntRedirect) error {
	return v.puntRedirect(ctx, p, true)
}

// DelPuntRedirect removes a punt redirect.
func (v *VPP) DelPuntRedirect(ctx context.Context, p PuntRedirect) error {
	return v.puntRedirect(ctx, p, false)
}

func (v *VPP) puntRedirect(ctx context.Context, p PuntRedirect, add bool) error {
	paths := make([]fib_types.FibPath, len(p.Paths))
	for i, path := range p.Paths {
		paths[i] = toFibPath(path, p.IPv6)
	}
	_, err := ip.NewServiceClient(v.conn).AddDelIPPuntRedirectV2(ctx, &ip.AddDelIPPuntRedirectV2{
		IsAdd: add,
		Punt:  ip.PuntRedirectV2{RxSwIfIndex: p.RxSwIfIndex.api(), Af: toAF(p.IPv6), NPaths: uint32(len(paths)), Paths: paths},
	})
	op := "add punt redirect"
	if !add {
		op = "delete punt redirect"
	}
	return wrap(op, fmt.Sprintf("%s from %d", ipFamily(p.IPv6), p.RxSwIfIndex), err)
}

// PuntRedirects lists the punt redirects of one family.
func (v *VPP) PuntRedirects(ctx context.Context, is6 bool) ([]PuntRedirect, error) {
	stream, err := ip.NewServiceClient(v.conn).IPPuntRedirectV2Dump(ctx, &ip.IPPuntRedirectV2Dump{SwIfIndex: InvalidSwIfIndex.api(), Af: toAF(is6)})
	if err != nil {
		return nil, wrap("dump punt redirects", ipFamily(is6), err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump punt redirects", ipFamily(is6), err)
	}
	out := make([]PuntRedirect, 0, len(details))
	for _, d := range details {
		p := PuntRedirect{RxSwIfIndex: SwIfIndex(d.Punt.RxSwIfIndex), IPv6: d.Punt.Af == ip_types.ADDRESS_IP6}
		for _, fp := range d.Punt.Paths {
			p.Paths = append(p.Paths, fromFibPath(fp))
		}
		out = append(out, p)
	}
	return out, nil
}

// AddProxyARP answers ARP for [low, high] in table.
func (v *VPP) AddProxyARP(ctx context.Context, table uint32, low, high netip.Addr) error {
	return v.proxyARP(ctx, table, low, high, true)
}

// DelProxyARP removes a proxy ARP range.
func (v *VPP) DelProxyARP(ctx context.Context, table uint32, low, high netip.Addr) error {
	return v.proxyARP(ctx, table, low, high, false)
}

func (v *VPP) proxyARP(ctx context.Context, table uint32, low, high netip.Addr, add bool) error {
	object := fmt.Sprintf("%s-%s in table %d", low, high, table)
	if !low.Is4() || !high.Is4() {
		return &Error{Op: "proxy arp", Object: object, Retval: RetvalInvalidAddressFamily, Err: fmt.Errorf("proxy ARP needs IPv4 addresses")}
	}
	_, err := arp.NewServiceClient(v.conn).ProxyArpAddDel(ctx, &arp.ProxyArpAddDel{IsAdd: add, Proxy: arp.ProxyArp{TableID: table, Low: low.As4(), Hi: high.As4()}})
	op := "add proxy arp"
	if !add {
		op = "delete proxy arp"
	}
	return wrap(op, object, err)
}

// EnableProxyARP turns proxy ARP on or off on an interface.
func (v *VPP) EnableProxyARP(ctx context.Context, idx SwIfIndex, enable bool) error {
	_, err := arp.NewServiceClient(v.conn).ProxyArpIntfcEnableDisable(ctx, &arp.ProxyArpIntfcEnableDisable{SwIfIndex: idx.api(), Enable: enable})
	return wrap("enable proxy arp", fmt.Sprint(idx), err)
}

// AddProxyND answers neighbor solicitations for addr on the interface.
func (v *VPP) AddProxyND(ctx context.Context, idx SwIfIndex, addr netip.Addr) error {
	return v.proxyND(ctx, idx, addr, true)
}

// DelProxyND removes an ND proxy entry.
func (v *VPP) DelProxyND(ctx context.Context, idx SwIfIndex, addr netip.Addr) error {
	return v.proxyND(ctx, idx, addr, false)
}

func (v *VPP) proxyND(ctx context.Context, idx SwIfIndex, addr netip.Addr, add bool) error {
	object := fmt.Sprintf("%s on %d", addr, idx)
	if !addr.Is6() {
		return &Error{Op: "proxy nd", Object: object, Retval: RetvalInvalidAddressFamily, Err: fmt.Errorf("ND proxy needs an IPv6 address")}
	}
	_, err := ip6_nd.NewServiceClient(v.conn).IP6ndProxyAddDel(ctx, &ip6_nd.IP6ndProxyAddDel{SwIfIndex: idx.api(), IsAdd: add, IP: addr.As16()})
	op := "add proxy nd"
	if !add {
		op = "delete proxy nd"
	}
	return wrap(op, object, err)
}

// EnableProxyND turns ND proxying on or off on an interface.
func (v *VPP) EnableProxyND(ctx context.Context, idx SwIfIndex, enable bool) error {
	_, err := ip6_nd.NewServiceClient(v.conn).IP6ndProxyEnableDisable(ctx, &ip6_nd.IP6ndProxyEnableDisable{SwIfIndex: idx.api(), IsEnable: enable})
	return wrap("enable proxy nd", fmt.Sprint(idx), err)
}
