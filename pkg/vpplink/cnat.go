package vpplink

import (
	"context"
	"fmt"
	"net/netip"

	"go.fd.io/govpp/binapi/cnat"
	"go.fd.io/govpp/binapi/feature"
	"go.fd.io/govpp/binapi/ip_types"
)

// IPProto is an IP protocol number.
type IPProto uint8

// Protocols services use.
const (
	ProtoICMP  IPProto = 1
	ProtoTCP   IPProto = 6
	ProtoUDP   IPProto = 17
	ProtoSCTP  IPProto = 132
	ProtoICMP6 IPProto = 58
)

func (p IPProto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoSCTP:
		return "sctp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMP6:
		return "icmp6"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// Endpoint is an address and port (port 0: any / unchanged).
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.Addr, e.Port).String()
}

// Backend is one destination of a translation.
type Backend struct {
	Dst Endpoint
	// Src rewrites the source (zero: keep it).
	Src Endpoint
	// Weight is the backend's share of new flows. VPP's cnat has no weight
	// field: a backend of weight N is sent as N identical paths, which its
	// hash spreads over proportionally. 0 means 1.
	Weight uint8
	// NoNAT forwards to the backend without translating.
	NoNAT bool
}

// LBType selects cnat's load-balancing algorithm.
type LBType uint8

// Load-balancing algorithms.
const (
	LBDefault = LBType(cnat.CNAT_LB_TYPE_DEFAULT)
	LBMaglev  = LBType(cnat.CNAT_LB_TYPE_MAGLEV)
)

// Translation is a cnat load-balancing rule: traffic to VIP/Proto is
// translated to one of the backends. cnat keys translations by VIP and
// protocol: updating an existing key keeps its ID and replaces backends and
// flags, but VPP keeps the LBType it was created with (delete and
// re-create to change it). Dumps do not report IsRealIP nor AllocPort.
type Translation struct {
	ID        uint32 // assigned by VPP
	VIP       Endpoint
	Proto     IPProto
	IsRealIP  bool // VIP is a real (node) address: only traffic to it, not through it
	LBType    LBType
	AllocPort bool
	Backends  []Backend
}

// Key identifies a translation in VPP: "<proto> <vip>".
func (t Translation) Key() string { return t.Proto.String() + " " + t.VIP.String() }

func toCnatEndpoint(e Endpoint) cnat.CnatEndpoint {
	out := cnat.CnatEndpoint{SwIfIndex: InvalidSwIfIndex.api(), Port: e.Port}
	if e.Addr.IsValid() {
		out.Addr = toAddress(e.Addr)
		out.IfAf = toAF(e.Addr.Is6())
	}
	return out
}

func fromCnatEndpoint(e cnat.CnatEndpoint, is6 bool) Endpoint {
	var zero ip_types.AddressUnion
	out := Endpoint{Port: e.Port}
	if e.Addr.Un != zero || e.Addr.Af == ip_types.ADDRESS_IP6 {
		out.Addr = fromAddress(e.Addr)
	}
	return out
}

func toCnatTranslation(t Translation) cnat.CnatTranslation {
	out := cnat.CnatTranslation{
		Vip: toCnatEndpoint(t.VIP), ID: t.ID, IPProto: ip_types.IPProto(t.Proto), LbType: cnat.CnatLbType(t.LBType),
	}
	if t.IsRealIP {
		out.IsRealIP = 1
	}
	if t.AllocPort {
		out.Flags |= uint8(cnat.CNAT_TRANSLATION_ALLOC_PORT)
	}
	for _, b := range t.Backends {
		tuple := cnat.CnatEndpointTuple{DstEp: toCnatEndpoint(b.Dst), SrcEp: toCnatEndpoint(b.Src)}
		if b.NoNAT {
			tuple.Flags = uint8(cnat.CNAT_EPT_NO_NAT)
		}
		for range max(b.Weight, 1) {
			out.Paths = append(out.Paths, tuple)
		}
	}
	out.NPaths = uint32(len(out.Paths))
	return out
}

func fromCnatTranslation(c cnat.CnatTranslation) Translation {
	is6 := c.Vip.Addr.Af == ip_types.ADDRESS_IP6
	t := Translation{
		ID: c.ID, VIP: fromCnatEndpoint(c.Vip, is6), Proto: IPProto(c.IPProto), IsRealIP: c.IsRealIP != 0,
		LBType: LBType(c.LbType), AllocPort: c.Flags&uint8(cnat.CNAT_TRANSLATION_ALLOC_PORT) != 0,
	}
	// Consecutive identical paths are one weighted backend (see Backend.Weight).
	for _, p := range c.Paths {
		b := Backend{Dst: fromCnatEndpoint(p.DstEp, is6), Src: fromCnatEndpoint(p.SrcEp, is6), Weight: 1, NoNAT: p.Flags&uint8(cnat.CNAT_EPT_NO_NAT) != 0}
		if n := len(t.Backends); n > 0 {
			last := &t.Backends[n-1]
			if last.Dst == b.Dst && last.Src == b.Src && last.NoNAT == b.NoNAT && last.Weight < 255 {
				last.Weight++
				continue
			}
		}
		t.Backends = append(t.Backends, b)
	}
	return t
}

// validate refuses what VPP cannot take: a translation without backends
// makes VPP 25.10 underflow a vector length and abort.
func (t Translation) validate() error {
	if len(t.Backends) == 0 {
		return invalid("update cnat translation", t.Key(), "no backends")
	}
	if !t.VIP.Addr.IsValid() {
		return invalid("update cnat translation", t.Key(), "no VIP address")
	}
	return nil
}

// UpdateTranslation creates or updates the translation for t's VIP and
// protocol and returns its ID.
func (v *VPP) UpdateTranslation(ctx context.Context, t Translation) (uint32, error) {
	if err := t.validate(); err != nil {
		return InvalidID, err
	}
	reply, err := cnat.NewServiceClient(v.conn).CnatTranslationUpdate(ctx, &cnat.CnatTranslationUpdate{Translation: toCnatTranslation(t)})
	if err != nil {
		return InvalidID, wrap("update cnat translation", t.Key(), err)
	}
	return reply.ID, nil
}

// DelTranslation deletes a translation by ID.
func (v *VPP) DelTranslation(ctx context.Context, id uint32) error {
	_, err := cnat.NewServiceClient(v.conn).CnatTranslationDel(ctx, &cnat.CnatTranslationDel{ID: id})
	return wrap("delete cnat translation", fmt.Sprint(id), err)
}

// Translations lists every cnat translation.
func (v *VPP) Translations(ctx context.Context) ([]Translation, error) {
	stream, err := cnat.NewServiceClient(v.conn).CnatTranslationDump(ctx, &cnat.CnatTranslationDump{})
	if err != nil {
		return nil, wrap("dump cnat translations", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump cnat translations", "", err)
	}
	out := make([]Translation, 0, len(details))
	for _, d := range details {
		out = append(out, fromCnatTranslation(d.Translation))
	}
	return out, nil
}

// SNATAddresses are the source addresses cnat uses to masquerade.
type SNATAddresses struct {
	IP4, IP6  netip.Addr
	SwIfIndex SwIfIndex // take the addresses from this interface instead (InvalidSwIfIndex or 0: none)
}

// SetSNATAddresses sets cnat's masquerading addresses.
func (v *VPP) SetSNATAddresses(ctx context.Context, a SNATAddresses) error {
	if (a.IP4.IsValid() && !a.IP4.Is4()) || (a.IP6.IsValid() && !a.IP6.Is6()) {
		return invalid("set cnat snat addresses", fmt.Sprintf("%s %s", a.IP4, a.IP6), "IP4 must be IPv4 and IP6 IPv6")
	}
	sw := a.SwIfIndex
	if sw == 0 {
		sw = InvalidSwIfIndex // 0 would take local0's addresses
	}
	req := &cnat.CnatSetSnatAddresses{SwIfIndex: sw.api()}
	if a.IP4.IsValid() {
		req.SnatIP4 = a.IP4.As4()
	}
	if a.IP6.IsValid() {
		req.SnatIP6 = a.IP6.As16()
	}
	_, err := cnat.NewServiceClient(v.conn).CnatSetSnatAddresses(ctx, req)
	return wrap("set cnat snat addresses", fmt.Sprintf("%s %s", a.IP4, a.IP6), err)
}

// GetSNATAddresses reads cnat's masquerading addresses.
func (v *VPP) GetSNATAddresses(ctx context.Context) (SNATAddresses, error) {
	reply, err := cnat.NewServiceClient(v.conn).CnatGetSnatAddresses(ctx, &cnat.CnatGetSnatAddresses{})
	if err != nil {
		return SNATAddresses{}, wrap("get cnat snat addresses", "", err)
	}
	out := SNATAddresses{SwIfIndex: SwIfIndex(reply.SwIfIndex)}
	if reply.SnatIP4 != (ip_types.IP4Address{}) {
		out.IP4 = netip.AddrFrom4(reply.SnatIP4)
	}
	if reply.SnatIP6 != (ip_types.IP6Address{}) {
		out.IP6 = netip.AddrFrom16(reply.SnatIP6)
	}
	return out, nil
}

// SNATPolicy selects which traffic cnat masquerades.
type SNATPolicy uint8

// SNAT policies.
const (
	SNATPolicyNone  = SNATPolicy(cnat.CNAT_POLICY_NONE)
	SNATPolicyIfPfx = SNATPolicy(cnat.CNAT_POLICY_IF_PFX)
	SNATPolicyK8s   = SNATPolicy(cnat.CNAT_POLICY_K8S)
)

// SetSNATPolicy selects the masquerading policy.
func (v *VPP) SetSNATPolicy(ctx context.Context, p SNATPolicy) error {
	_, err := cnat.NewServiceClient(v.conn).CnatSetSnatPolicy(ctx, &cnat.CnatSetSnatPolicy{Policy: cnat.CnatSnatPolicies(p)})
	return wrap("set cnat snat policy", fmt.Sprint(p), err)
}

// AddSNATExcludePrefix exempts traffic to prefix from masquerading.
func (v *VPP) AddSNATExcludePrefix(ctx context.Context, prefix netip.Prefix) error {
	_, err := cnat.NewServiceClient(v.conn).CnatSnatPolicyAddDelExcludePfx(ctx, &cnat.CnatSnatPolicyAddDelExcludePfx{IsAdd: 1, Prefix: toPrefix(prefix)})
	return wrap("add cnat snat exclude prefix", prefix.String(), err)
}

// DelSNATExcludePrefix removes an exemption.
func (v *VPP) DelSNATExcludePrefix(ctx context.Context, prefix netip.Prefix) error {
	_, err := cnat.NewServiceClient(v.conn).CnatSnatPolicyAddDelExcludePfx(ctx, &cnat.CnatSnatPolicyAddDelExcludePfx{IsAdd: 0, Prefix: toPrefix(prefix)})
	return wrap("delete cnat snat exclude prefix", prefix.String(), err)
}

// SNATInterfaceTable is the k8s policy's per-interface classification.
type SNATInterfaceTable uint8

// Interface classes of the k8s SNAT policy.
const (
	SNATIncludeV4 = SNATInterfaceTable(cnat.CNAT_POLICY_INCLUDE_V4)
	SNATIncludeV6 = SNATInterfaceTable(cnat.CNAT_POLICY_INCLUDE_V6)
	SNATPod       = SNATInterfaceTable(cnat.CNAT_POLICY_POD)
	SNATHost      = SNATInterfaceTable(cnat.CNAT_POLICY_HOST)
)

// SetSNATInterface adds or removes an interface from a SNAT policy class.
func (v *VPP) SetSNATInterface(ctx context.Context, idx SwIfIndex, table SNATInterfaceTable, add bool) error {
	var isAdd uint8
	if add {
		isAdd = 1
	}
	_, err := cnat.NewServiceClient(v.conn).CnatSnatPolicyAddDelIf(ctx, &cnat.CnatSnatPolicyAddDelIf{SwIfIndex: idx.api(), IsAdd: isAdd, Table: cnat.CnatSnatPolicyTable(table)})
	return wrap("set cnat snat interface", fmt.Sprintf("%d class %d", idx, table), err)
}

// EnableFeature enables or disables a feature node on an interface's arc
// (e.g. arc "ip4-unicast", feature "cnat-input-ip4").
func (v *VPP) EnableFeature(ctx context.Context, idx SwIfIndex, arc, node string, enable bool) error {
	_, err := feature.NewServiceClient(v.conn).FeatureEnableDisable(ctx, &feature.FeatureEnableDisable{SwIfIndex: idx.api(), Enable: enable, ArcName: arc, FeatureName: node})
	return wrap("enable feature", fmt.Sprintf("%s/%s on %d", arc, node, idx), err)
}

// EnableCnat turns cnat's service translation on for traffic entering (and,
// for SNAT, leaving) the interface, both families.
func (v *VPP) EnableCnat(ctx context.Context, idx SwIfIndex, enable bool) error {
	for _, f := range []struct{ arc, node string }{
		{"ip4-unicast", "cnat-input-ip4"}, {"ip6-unicast", "cnat-input-ip6"},
		{"ip4-output", "cnat-output-ip4"}, {"ip6-output", "cnat-output-ip6"},
	} {
		if err := v.EnableFeature(ctx, idx, f.arc, f.node, enable); err != nil {
			return err
		}
	}
	return nil
}
