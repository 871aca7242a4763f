package fakevpp

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/arp"
	"go.fd.io/govpp/binapi/fib_types"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip6_nd"
	"go.fd.io/govpp/binapi/ip_neighbor"
	"go.fd.io/govpp/binapi/ip_types"
)

// FIB sources in VPP's priority order (src/vnet/fib/fib_source.h): the
// best source present on a prefix is the one a dump shows.
type fibSource int

const (
	srcSpecial fibSource = iota
	srcInterface
	srcAPI
	srcAdj
	srcDefaultRoute
)

type fibEntry struct {
	display netip.Prefix // VPP shows v4 glean routes unmasked
	source  fibSource
	paths   []fib_types.FibPath
}

func dropPath(is6 bool) fib_types.FibPath {
	return fib_types.FibPath{SwIfIndex: invalidIndex, Weight: 1, Type: fib_types.FIB_API_PATH_TYPE_DROP, Proto: nhProto(is6)}
}

func nhProto(is6 bool) fib_types.FibPathNhProto {
	if is6 {
		return fib_types.FIB_API_PATH_NH_PROTO_IP6
	}
	return fib_types.FIB_API_PATH_NH_PROTO_IP4
}

func ifPath(sw uint32, nh netip.Addr, typ fib_types.FibPathType, is6 bool) fib_types.FibPath {
	p := fib_types.FibPath{SwIfIndex: sw, Weight: 1, Type: typ, Proto: nhProto(is6)}
	if nh.IsValid() {
		p.Nh.Address = toAddress(nh).Un
	}
	return p
}

// fibEntries computes the table's entries as VPP holds them: specials
// (src/vnet/fib/ip4_fib.c, ip6_fib.c), connected routes of admin-up
// interfaces bound to the table, API routes, neighbor adjacency routes,
// ND-proxy /128s; the best source per prefix wins.
func (st *state) fibEntries(k fibKey) map[netip.Prefix]*fibEntry {
	out := map[netip.Prefix]*fibEntry{}
	put := func(p netip.Prefix, display netip.Prefix, src fibSource, paths ...fib_types.FibPath) {
		key := p.Masked()
		if cur, ok := out[key]; ok && cur.source <= src {
			if cur.source == src && src == srcInterface {
				// Interface prefixes are refcounted: one entry, one path each.
			next:
				for _, np := range paths {
					for _, have := range cur.paths {
						if samePath(have, np) {
							continue next
						}
					}
					cur.paths = append(cur.paths, np)
				}
			}
			return
		}
		out[key] = &fibEntry{display: display, source: src, paths: paths}
	}
	is6 := k.is6
	if !is6 {
		put(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("0.0.0.0/0"), srcDefaultRoute, dropPath(false))
		for _, s := range []string{"0.0.0.0/32", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"} {
			p := netip.MustParsePrefix(s)
			put(p, p, srcSpecial, dropPath(false))
		}
	} else {
		put(netip.MustParsePrefix("::/0"), netip.MustParsePrefix("::/0"), srcDefaultRoute, dropPath(true))
		ll := netip.MustParsePrefix("fe80::/10")
		put(ll, ll, srcSpecial, fib_types.FibPath{SwIfIndex: invalidIndex, Weight: 1, Proto: nhProto(true)})
	}
	f := family(is6)
	for _, i := range st.ifs {
		if i.table[f] != k.id || !i.adminUp {
			continue
		}
		for _, a := range i.addrs[f] {
			host := netip.PrefixFrom(a.Addr(), a.Addr().BitLen())
			put(host, host, srcInterface, ifPath(i.idx, a.Addr(), fib_types.FIB_API_PATH_TYPE_LOCAL, is6))
			if is6 {
				put(a.Masked(), a.Masked(), srcInterface, ifPath(i.idx, netip.Addr{}, fib_types.FIB_API_PATH_TYPE_NORMAL, true))
				continue
			}
			put(a.Masked(), a, srcInterface, ifPath(i.idx, netip.Addr{}, fib_types.FIB_API_PATH_TYPE_NORMAL, false))
			switch {
			case a.Bits() <= 30:
				network := a.Masked().Addr()
				put(netip.PrefixFrom(network, 32), netip.PrefixFrom(network, 32), srcInterface, dropPath(false))
				bcast := broadcast(a)
				put(netip.PrefixFrom(bcast, 32), netip.PrefixFrom(bcast, 32), srcInterface, dropPath(false))
			case a.Bits() == 31:
				peer := peerOf31(a)
				put(netip.PrefixFrom(peer, 32), netip.PrefixFrom(peer, 32), srcInterface, ifPath(i.idx, peer, fib_types.FIB_API_PATH_TYPE_NORMAL, false))
			}
		}
	}
	if t, ok := st.fibs[k]; ok {
		for p, paths := range t.api {
			put(p, p, srcAPI, paths...)
		}
	}
	for nk, n := range st.neighbors {
		i, ok := st.ifs[nk.swIfIndex]
		if !ok || nk.ip.Is6() != is6 || i.table[f] != k.id || n.flags&uint8(ip_neighbor.IP_API_NEIGHBOR_FLAG_NO_FIB_ENTRY) != 0 {
			continue
		}
		host := netip.PrefixFrom(nk.ip, nk.ip.BitLen())
		put(host, host, srcAdj, ifPath(nk.swIfIndex, nk.ip, fib_types.FIB_API_PATH_TYPE_NORMAL, is6))
	}
	if is6 {
		for nk := range st.ndProxies {
			i, ok := st.ifs[nk.swIfIndex]
			if !ok || i.table[1] != k.id {
				continue
			}
			host := netip.PrefixFrom(nk.ip, 128)
			put(host, host, srcAPI, ifPath(nk.swIfIndex, nk.ip, fib_types.FIB_API_PATH_TYPE_NORMAL, true))
		}
	}
	return out
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func peerOf31(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	b[3] ^= 1
	return netip.AddrFrom4(b)
}

// sortedEntries orders entries by prefix length, then address (VPP's v4
// walk is by length; the CLI sorts).
func sortedEntries(m map[netip.Prefix]*fibEntry) []netip.Prefix {
	keys := make([]netip.Prefix, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].Bits() != keys[b].Bits() {
			return keys[a].Bits() < keys[b].Bits()
		}
		return keys[a].Addr().Less(keys[b].Addr())
	})
	return keys
}

// decodePaths validates route paths as fib_api_path_decode does: an
// interface must exist (-54); a lookup path's table must exist (-3).
func (st *state) decodePaths(in []fib_types.FibPath, is6 bool) ([]fib_types.FibPath, int32) {
	out := make([]fib_types.FibPath, 0, len(in))
	var zero ip_types.AddressUnion
	for _, p := range in {
		if p.Type == fib_types.FIB_API_PATH_TYPE_NORMAL {
			if p.SwIfIndex != invalidIndex {
				if _, ok := st.ifs[p.SwIfIndex]; !ok {
					return nil, rvNoMatchingInterface
				}
			} else if p.Nh.Address == zero {
				if _, ok := st.fibs[fibKey{p.TableID, p.Proto == fib_types.FIB_API_PATH_NH_PROTO_IP6}]; !ok {
					return nil, rvNoSuchFib
				}
			}
		}
		if p.Weight == 0 {
			p.Weight = 1
		}
		p.RpfID = 0
		p.NLabels = 0
		p.LabelStack = [16]fib_types.FibMplsLabel{}
		out = append(out, p)
	}
	return out, 0
}

// sortPaths orders a path list as VPP's fib_path_list does (by
// preference, type, next hop, interface), so dumps list paths the same way.
func sortPaths(paths []fib_types.FibPath) {
	sort.SliceStable(paths, func(i, j int) bool {
		a, b := paths[i], paths[j]
		if a.Preference != b.Preference {
			return a.Preference < b.Preference
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if c := bytes.Compare(a.Nh.Address.XXX_UnionData[:], b.Nh.Address.XXX_UnionData[:]); c != 0 {
			return c < 0
		}
		return a.SwIfIndex < b.SwIfIndex
	})
}

func samePath(a, b fib_types.FibPath) bool {
	return a.SwIfIndex == b.SwIfIndex && a.Type == b.Type && a.Nh.Address == b.Nh.Address && a.Proto == b.Proto &&
		(a.SwIfIndex != invalidIndex || a.TableID == b.TableID)
}

func (e *Engine) registerIP() {
	st := &e.st
	// ip_table_add_del (src/vnet/ip/ip_api.c): always rv 0; table 0 is a
	// no-op, re-adding keeps the name, deleting leaves API routes (they are
	// gone with the table here, as nothing can reach them any more).
	on(e, func(_ *Client, req *ip.IPTableAddDel) []api.Message {
		k := fibKey{req.Table.TableID, req.Table.IsIP6}
		if k.id == 0 {
			return one(&ip.IPTableAddDelReply{})
		}
		if req.IsAdd {
			if _, ok := st.fibs[k]; !ok {
				name := req.Table.Name
				if name == "" {
					name = fmt.Sprintf("ipv%d-VRF:%d", map[bool]int{false: 4, true: 6}[k.is6], k.id)
				}
				st.fibs[k] = &fib{name: name, api: map[netip.Prefix][]fib_types.FibPath{}}
			}
			return one(&ip.IPTableAddDelReply{})
		}
		for _, i := range st.ifs {
			if i.table[family(k.is6)] == k.id {
				return one(&ip.IPTableAddDelReply{}) // a binding keeps it alive
			}
		}
		delete(st.fibs, k)
		return one(&ip.IPTableAddDelReply{})
	}, &ip.IPTableAddDelReply{})

	// ip_table_dump: IPv4 tables, then IPv6 tables.
	on(e, func(_ *Client, _ *ip.IPTableDump) []api.Message {
		keys := make([]fibKey, 0, len(st.fibs))
		for k := range st.fibs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool {
			if keys[a].is6 != keys[b].is6 {
				return !keys[a].is6
			}
			return keys[a].id < keys[b].id
		})
		var out []api.Message
		for _, k := range keys {
			out = append(out, &ip.IPTableDetails{Table: ip.IPTable{TableID: k.id, IsIP6: k.is6, Name: st.fibs[k].name}})
		}
		return out
	}, &ip.IPTableDetails{})

	// ip_route_add_del (fib_api_route_add_del): add without multipath
	// replaces the API paths, with multipath appends; delete of a missing
	// route is rv 0.
	on(e, func(_ *Client, req *ip.IPRouteAddDel) []api.Message {
		rv, stats := st.routeAddDel(req)
		return one(&ip.IPRouteAddDelReply{Retval: rv, StatsIndex: stats})
	}, &ip.IPRouteAddDelReply{})

	on(e, func(_ *Client, req *ip.IPRouteDump) []api.Message {
		k := fibKey{req.Table.TableID, req.Table.IsIP6}
		if _, ok := st.fibs[k]; !ok {
			return nil
		}
		entries := st.fibEntries(k)
		var out []api.Message
		for _, p := range sortedEntries(entries) {
			en := entries[p]
			paths := append([]fib_types.FibPath(nil), en.paths...)
			out = append(out, &ip.IPRouteDetails{Route: ip.IPRoute{TableID: k.id, StatsIndex: invalidIndex,
				Prefix: toPrefix(en.display), NPaths: uint8(len(paths)), Paths: paths}})
		}
		return out
	}, &ip.IPRouteDetails{})

	// ip_neighbor_add_del (src/vnet/ip-neighbor/ip_neighbor.c): add updates
	// the MAC; a dynamic add over a static entry with another MAC is -2;
	// deleting a missing entry is -6.
	on(e, func(_ *Client, req *ip_neighbor.IPNeighborAddDel) []api.Message {
		n := req.Neighbor
		if _, ok := st.iface(uint32(n.SwIfIndex)); !ok {
			return one(&ip_neighbor.IPNeighborAddDelReply{Retval: rvInvalidSwIfIndex})
		}
		k := nbrKey{uint32(n.SwIfIndex), fromAddress(n.IPAddress)}
		cur, exists := st.neighbors[k]
		if !req.IsAdd {
			if !exists {
				return one(&ip_neighbor.IPNeighborAddDelReply{Retval: rvNoSuchEntry})
			}
			delete(st.neighbors, k)
			return one(&ip_neighbor.IPNeighborAddDelReply{})
		}
		mac := net.HardwareAddr(append([]byte(nil), n.MacAddress[:]...))
		static := n.Flags&ip_neighbor.IP_API_NEIGHBOR_FLAG_STATIC != 0
		if exists && cur.flags&uint8(ip_neighbor.IP_API_NEIGHBOR_FLAG_STATIC) != 0 && !static && cur.mac.String() != mac.String() {
			return one(&ip_neighbor.IPNeighborAddDelReply{Retval: rvInvalidSwIfIndex})
		}
		st.neighbors[k] = &neighbor{mac: mac, flags: uint8(n.Flags)}
		return one(&ip_neighbor.IPNeighborAddDelReply{})
	}, &ip_neighbor.IPNeighborAddDelReply{})

	on(e, func(_ *Client, req *ip_neighbor.IPNeighborDump) []api.Message {
		var keys []nbrKey
		for k := range st.neighbors {
			if (req.SwIfIndex == interface_types.InterfaceIndex(invalidIndex) || uint32(req.SwIfIndex) == k.swIfIndex) &&
				k.ip.Is6() == (req.Af == ip_types.ADDRESS_IP6) {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(a, b int) bool {
			if keys[a].swIfIndex != keys[b].swIfIndex {
				return keys[a].swIfIndex < keys[b].swIfIndex
			}
			return keys[a].ip.Less(keys[b].ip)
		})
		var out []api.Message
		for _, k := range keys {
			n := st.neighbors[k]
			out = append(out, &ip_neighbor.IPNeighborDetails{Neighbor: ip_neighbor.IPNeighbor{
				SwIfIndex: interface_types.InterfaceIndex(k.swIfIndex), Flags: ip_neighbor.IPNeighborFlags(n.flags),
				MacAddress: macOf(n.mac), IPAddress: toAddress(k.ip)}})
		}
		return out
	}, &ip_neighbor.IPNeighborDetails{})

	// add_del_ip_punt_redirect_v2: paths decoded as for routes; rx ~0
	// ("any") shares slot 0 with local0; add replaces, delete of a missing
	// entry is rv 0.
	on(e, func(_ *Client, req *ip.AddDelIPPuntRedirectV2) []api.Message {
		is6 := req.Punt.Af == ip_types.ADDRESS_IP6
		rx := uint32(req.Punt.RxSwIfIndex)
		if rx == invalidIndex {
			rx = 0
		}
		k := puntKey{rx, is6}
		// Paths are decoded (and refused) before either add or delete.
		paths, rv := st.decodePaths(req.Punt.Paths, is6)
		if rv != 0 {
			return one(&ip.AddDelIPPuntRedirectV2Reply{Retval: rv})
		}
		if !req.IsAdd {
			delete(st.punts, k)
			return one(&ip.AddDelIPPuntRedirectV2Reply{})
		}
		st.punts[k] = paths
		return one(&ip.AddDelIPPuntRedirectV2Reply{})
	}, &ip.AddDelIPPuntRedirectV2Reply{})

	on(e, func(_ *Client, req *ip.IPPuntRedirectV2Dump) []api.Message {
		is6 := req.Af == ip_types.ADDRESS_IP6
		var rxs []uint32
		for k := range st.punts {
			if k.is6 == is6 && (req.SwIfIndex == interface_types.InterfaceIndex(invalidIndex) || uint32(req.SwIfIndex) == k.rx) {
				rxs = append(rxs, k.rx)
			}
		}
		sort.Slice(rxs, func(a, b int) bool { return rxs[a] < rxs[b] })
		var out []api.Message
		for _, rx := range rxs {
			paths := st.punts[puntKey{rx, is6}]
			shown := rx
			if rx == 0 {
				shown = invalidIndex
			}
			out = append(out, &ip.IPPuntRedirectV2Details{Punt: ip.PuntRedirectV2{RxSwIfIndex: interface_types.InterfaceIndex(shown),
				Af: req.Af, NPaths: uint32(len(paths)), Paths: paths}})
		}
		return out
	}, &ip.IPPuntRedirectV2Details{})

	// proxy_arp_add_del (src/vnet/arp/arp_proxy.c): the table must exist;
	// duplicate add is rv 0; deleting a missing range is -6.
	on(e, func(_ *Client, req *arp.ProxyArpAddDel) []api.Message {
		r := proxyARPRange{table: req.Proxy.TableID, low: netip.AddrFrom4(req.Proxy.Low), hi: netip.AddrFrom4(req.Proxy.Hi)}
		if _, ok := st.fibs[fibKey{r.table, false}]; !ok {
			return one(&arp.ProxyArpAddDelReply{Retval: rvNoSuchFib})
		}
		for k, cur := range st.proxyARPs {
			if cur == r {
				if !req.IsAdd {
					st.proxyARPs = append(st.proxyARPs[:k:k], st.proxyARPs[k+1:]...)
				}
				return one(&arp.ProxyArpAddDelReply{})
			}
		}
		if !req.IsAdd {
			return one(&arp.ProxyArpAddDelReply{Retval: rvNoSuchEntry})
		}
		st.proxyARPs = append(st.proxyARPs, r)
		return one(&arp.ProxyArpAddDelReply{})
	}, &arp.ProxyArpAddDelReply{})

	on(e, func(_ *Client, req *arp.ProxyArpIntfcEnableDisable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&arp.ProxyArpIntfcEnableDisableReply{Retval: rvInvalidSwIfIndex})
		}
		i.proxyARP = req.Enable
		return one(&arp.ProxyArpIntfcEnableDisableReply{})
	}, &arp.ProxyArpIntfcEnableDisableReply{})

	// ip6nd_proxy_add_del (src/vnet/ip6-nd/ip6_nd_proxy.c): adds a /128 in
	// the interface's table; deleting a missing entry is rv 0.
	on(e, func(_ *Client, req *ip6_nd.IP6ndProxyAddDel) []api.Message {
		if _, ok := st.iface(uint32(req.SwIfIndex)); !ok {
			return one(&ip6_nd.IP6ndProxyAddDelReply{Retval: rvInvalidSwIfIndex})
		}
		k := ndProxyKey{uint32(req.SwIfIndex), netip.AddrFrom16(req.IP)}
		if req.IsAdd {
			st.ndProxies[k] = true
		} else {
			delete(st.ndProxies, k)
		}
		return one(&ip6_nd.IP6ndProxyAddDelReply{})
	}, &ip6_nd.IP6ndProxyAddDelReply{})

	on(e, func(_ *Client, req *ip6_nd.IP6ndProxyEnableDisable) []api.Message {
		i, ok := st.iface(uint32(req.SwIfIndex))
		if !ok {
			return one(&ip6_nd.IP6ndProxyEnableDisableReply{Retval: rvInvalidSwIfIndex})
		}
		i.ndProxy = req.IsEnable
		return one(&ip6_nd.IP6ndProxyEnableDisableReply{})
	}, &ip6_nd.IP6ndProxyEnableDisableReply{})
}

func (st *state) routeAddDel(req *ip.IPRouteAddDel) (int32, uint32) {
	r := req.Route
	k := fibKey{r.TableID, r.Prefix.Address.Af == ip_types.ADDRESS_IP6}
	t, ok := st.fibs[k]
	if !ok {
		return rvNoSuchFib, invalidIndex
	}
	p := fromPrefix(r.Prefix)
	if p.Bits() < 0 || !p.IsValid() {
		return rvInvalidPrefixLength, invalidIndex
	}
	key := p.Masked()
	if !req.IsAdd {
		if !req.IsMultipath {
			delete(t.api, key)
			return 0, invalidIndex
		}
		paths, rv := st.decodePaths(r.Paths, k.is6)
		if rv != 0 {
			return rv, invalidIndex
		}
		cur := t.api[key]
		for _, del := range paths {
			for j, c := range cur {
				if samePath(c, del) {
					cur = append(cur[:j:j], cur[j+1:]...)
					break
				}
			}
		}
		if len(cur) == 0 {
			delete(t.api, key)
		} else {
			t.api[key] = cur
		}
		return 0, invalidIndex
	}
	if len(r.Paths) == 0 {
		return rvNoPathsInRoute, invalidIndex
	}
	paths, rv := st.decodePaths(r.Paths, k.is6)
	if rv != 0 {
		return rv, invalidIndex
	}
	if req.IsMultipath {
		cur := t.api[key]
	next:
		for _, add := range paths {
			for _, c := range cur {
				if samePath(c, add) {
					continue next
				}
			}
			cur = append(cur, add)
		}
		paths = cur
	}
	sortPaths(paths)
	t.api[key] = paths
	st.statsIndex++
	return 0, st.statsIndex
}
