package vpplink

import (
	"net"
	"net/netip"

	"go.fd.io/govpp/binapi/ethernet_types"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
)

// SwIfIndex is VPP's software interface index.
type SwIfIndex uint32

// InvalidSwIfIndex is VPP's ~0: "no interface" / "all interfaces".
const InvalidSwIfIndex SwIfIndex = ^SwIfIndex(0)

// InvalidID is VPP's ~0 for instance and object identifiers ("allocate one").
const InvalidID = ^uint32(0)

func (s SwIfIndex) api() interface_types.InterfaceIndex { return interface_types.InterfaceIndex(s) }

func toAddress(a netip.Addr) ip_types.Address {
	var out ip_types.Address
	if a.Is4() {
		out.Af = ip_types.ADDRESS_IP4
		out.Un.SetIP4(a.As4())
	} else {
		out.Af = ip_types.ADDRESS_IP6
		out.Un.SetIP6(a.As16())
	}
	return out
}

func fromAddress(a ip_types.Address) netip.Addr {
	if a.Af == ip_types.ADDRESS_IP6 {
		return netip.AddrFrom16(a.Un.GetIP6())
	}
	return netip.AddrFrom4(a.Un.GetIP4())
}

func toPrefix(p netip.Prefix) ip_types.Prefix {
	return ip_types.Prefix{Address: toAddress(p.Addr()), Len: uint8(p.Bits())}
}

func fromPrefix(p ip_types.Prefix) netip.Prefix {
	return netip.PrefixFrom(fromAddress(p.Address), int(p.Len))
}

// toAddressWithPrefix keeps the host bits (an interface address).
func toAddressWithPrefix(p netip.Prefix) ip_types.AddressWithPrefix {
	return ip_types.AddressWithPrefix(toPrefix(p))
}

func fromAddressWithPrefix(p ip_types.AddressWithPrefix) netip.Prefix {
	return fromPrefix(ip_types.Prefix(p))
}

func toMAC(m net.HardwareAddr) ethernet_types.MacAddress {
	var out ethernet_types.MacAddress
	copy(out[:], m)
	return out
}

func fromMAC(m ethernet_types.MacAddress) net.HardwareAddr {
	if m == (ethernet_types.MacAddress{}) {
		return nil
	}
	return net.HardwareAddr(append([]byte(nil), m[:]...))
}

func toAF(is6 bool) ip_types.AddressFamily {
	if is6 {
		return ip_types.ADDRESS_IP6
	}
	return ip_types.ADDRESS_IP4
}

// ipFamily names an address family in error messages.
func ipFamily(is6 bool) string {
	if is6 {
		return "ip6"
	}
	return "ip4"
}
