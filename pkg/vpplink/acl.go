package vpplink

import (
	"context"
	"fmt"
	"net/netip"

	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/acl_types"
	"go.fd.io/govpp/binapi/ip_types"
)

// ACLAction is what a matching rule does.
type ACLAction uint8

// Rule actions.
const (
	ACLDeny          = ACLAction(acl_types.ACL_ACTION_API_DENY)
	ACLPermit        = ACLAction(acl_types.ACL_ACTION_API_PERMIT)
	ACLPermitReflect = ACLAction(acl_types.ACL_ACTION_API_PERMIT_REFLECT)
)

// ACLRule is one rule. Src and Dst must be of the same family and have no
// host bits (VPP refuses them); a zero prefix means any. For ICMP the port
// ranges carry type and code ranges.
type ACLRule struct {
	Action                      ACLAction
	Src, Dst                    netip.Prefix
	Proto                       IPProto // 0: any
	SrcPortFirst, SrcPortLast   uint16
	DstPortFirst, DstPortLast   uint16
	TCPFlagsMask, TCPFlagsValue uint8
}

// ACL is an ordered list of rules; VPP tags it (we mark ownership there).
type ACL struct {
	Index uint32 // assigned by VPP
	Tag   string
	Rules []ACLRule
}

// anyOf is the "any" prefix of the family of other (IPv4 when unknown).
func anyOf(p, other netip.Prefix) netip.Prefix {
	if p.IsValid() {
		return p
	}
	if other.IsValid() && other.Addr().Is6() {
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
}

func toACLRule(r ACLRule) acl_types.ACLRule {
	// A zero prefix means "any", of the other side's family.
	r.Src, r.Dst = anyOf(r.Src, r.Dst), anyOf(r.Dst, r.Src)
	return acl_types.ACLRule{
		IsPermit: acl_types.ACLAction(r.Action), SrcPrefix: toPrefix(r.Src), DstPrefix: toPrefix(r.Dst),
		Proto:                  ip_types.IPProto(r.Proto),
		SrcportOrIcmptypeFirst: r.SrcPortFirst, SrcportOrIcmptypeLast: r.SrcPortLast,
		DstportOrIcmpcodeFirst: r.DstPortFirst, DstportOrIcmpcodeLast: r.DstPortLast,
		TCPFlagsMask: r.TCPFlagsMask, TCPFlagsValue: r.TCPFlagsValue,
	}
}

func fromACLRule(r acl_types.ACLRule) ACLRule {
	return ACLRule{
		Action: ACLAction(r.IsPermit), Src: fromPrefix(r.SrcPrefix), Dst: fromPrefix(r.DstPrefix), Proto: IPProto(r.Proto),
		SrcPortFirst: r.SrcportOrIcmptypeFirst, SrcPortLast: r.SrcportOrIcmptypeLast,
		DstPortFirst: r.DstportOrIcmpcodeFirst, DstPortLast: r.DstportOrIcmpcodeLast,
		TCPFlagsMask: r.TCPFlagsMask, TCPFlagsValue: r.TCPFlagsValue,
	}
}

func aclRequest(index uint32, a ACL) *acl.ACLAddReplace {
	rules := make([]acl_types.ACLRule, len(a.Rules))
	for i, r := range a.Rules {
		rules[i] = toACLRule(r)
	}
	return &acl.ACLAddReplace{ACLIndex: index, Tag: a.Tag, Count: uint32(len(rules)), R: rules}
}

// AddACL creates an ACL and returns its index.
func (v *VPP) AddACL(ctx context.Context, a ACL) (uint32, error) {
	reply, err := acl.NewServiceClient(v.conn).ACLAddReplace(ctx, aclRequest(InvalidID, a))
	if err != nil {
		return InvalidID, wrap("add acl", a.Tag, err)
	}
	return reply.ACLIndex, nil
}

// ReplaceACL replaces the rules and tag of an existing ACL in place
// (interfaces using it keep using it).
func (v *VPP) ReplaceACL(ctx context.Context, index uint32, a ACL) error {
	_, err := acl.NewServiceClient(v.conn).ACLAddReplace(ctx, aclRequest(index, a))
	return wrap("replace acl", fmt.Sprintf("%d (%s)", index, a.Tag), err)
}

// DelACL deletes an ACL; VPP refuses while an interface uses it.
func (v *VPP) DelACL(ctx context.Context, index uint32) error {
	_, err := acl.NewServiceClient(v.conn).ACLDel(ctx, &acl.ACLDel{ACLIndex: index})
	return wrap("delete acl", fmt.Sprint(index), err)
}

// ACLs lists every ACL.
func (v *VPP) ACLs(ctx context.Context) ([]ACL, error) {
	stream, err := acl.NewServiceClient(v.conn).ACLDump(ctx, &acl.ACLDump{ACLIndex: InvalidID})
	if err != nil {
		return nil, wrap("dump acls", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump acls", "", err)
	}
	out := make([]ACL, 0, len(details))
	for _, d := range details {
		a := ACL{Index: d.ACLIndex, Tag: d.Tag, Rules: make([]ACLRule, len(d.R))}
		for i, r := range d.R {
			a.Rules[i] = fromACLRule(r)
		}
		out = append(out, a)
	}
	return out, nil
}

// InterfaceACLs are the ACLs applied to an interface, in evaluation order.
type InterfaceACLs struct {
	SwIfIndex SwIfIndex
	Input     []uint32
	Output    []uint32
}

// SetInterfaceACLs replaces the interface's input and output ACL lists.
func (v *VPP) SetInterfaceACLs(ctx context.Context, a InterfaceACLs) error {
	acls := append(append([]uint32{}, a.Input...), a.Output...)
	if len(acls) > 255 {
		return invalid("set interface acls", fmt.Sprint(a.SwIfIndex), "%d ACLs exceed 255", len(acls))
	}
	_, err := acl.NewServiceClient(v.conn).ACLInterfaceSetACLList(ctx, &acl.ACLInterfaceSetACLList{
		SwIfIndex: a.SwIfIndex.api(), Count: uint8(len(acls)), NInput: uint8(len(a.Input)), Acls: acls,
	})
	return wrap("set interface acls", fmt.Sprint(a.SwIfIndex), err)
}

// AllInterfaceACLs lists the ACL bindings of every interface that has any.
func (v *VPP) AllInterfaceACLs(ctx context.Context) ([]InterfaceACLs, error) {
	stream, err := acl.NewServiceClient(v.conn).ACLInterfaceListDump(ctx, &acl.ACLInterfaceListDump{SwIfIndex: InvalidSwIfIndex.api()})
	if err != nil {
		return nil, wrap("dump interface acls", "", err)
	}
	details, err := dumpAll(stream)
	if err != nil {
		return nil, wrap("dump interface acls", "", err)
	}
	out := make([]InterfaceACLs, 0, len(details))
	for _, d := range details {
		if len(d.Acls) == 0 {
			continue // VPP reports every interface, bound or not
		}
		n := min(int(d.NInput), len(d.Acls))
		out = append(out, InterfaceACLs{SwIfIndex: SwIfIndex(d.SwIfIndex),
			Input: append([]uint32{}, d.Acls[:n]...), Output: append([]uint32{}, d.Acls[n:]...)})
	}
	return out, nil
}
