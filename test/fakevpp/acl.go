package fakevpp

import (
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/acl_types"
	"go.fd.io/govpp/binapi/interface_types"
)

type aclEntry struct {
	tag   string
	rules []acl_types.ACLRule
}

type aclState struct {
	ids     pool[struct{}]
	acls    map[uint32]*aclEntry
	inputs  map[uint32][]uint32 // per sw_if_index
	outputs map[uint32][]uint32
}

func newACLState() aclState {
	return aclState{acls: map[uint32]*aclEntry{}, inputs: map[uint32][]uint32{}, outputs: map[uint32][]uint32{}}
}

func (a *aclState) unbind(idx uint32) {
	delete(a.inputs, idx)
	delete(a.outputs, idx)
}

// validRule checks a rule as acl_add_list does: prefixes of one family
// without host bits (-57 source, -58 destination), port ranges in order (-8).
func validRule(r acl_types.ACLRule) int32 {
	src, dst := fromPrefix(r.SrcPrefix), fromPrefix(r.DstPrefix)
	if !src.IsValid() || src.Masked() != src {
		return rvInvalidSrcAddress
	}
	if !dst.IsValid() || dst.Masked() != dst {
		return rvInvalidDstAddress
	}
	if r.SrcPrefix.Address.Af != r.DstPrefix.Address.Af {
		return rvInvalidSrcAddress
	}
	if r.SrcportOrIcmptypeFirst > r.SrcportOrIcmptypeLast || r.DstportOrIcmpcodeFirst > r.DstportOrIcmpcodeLast {
		return rvInvalidValue2
	}
	return 0
}

func contains(list []uint32, v uint32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (e *Engine) registerACL() {
	a := &e.st.acl
	st := &e.st
	// acl_add_replace (src/plugins/acl/acl.c): rules validated first; ~0
	// allocates (pool, LIFO reuse); another index must exist (-6).
	on(e, func(_ *Client, req *acl.ACLAddReplace) []api.Message {
		for _, r := range req.R {
			if rv := validRule(r); rv != 0 {
				return one(&acl.ACLAddReplaceReply{ACLIndex: req.ACLIndex, Retval: rv})
			}
		}
		rules := append([]acl_types.ACLRule(nil), req.R...)
		if req.ACLIndex == invalidIndex {
			idx := a.ids.get()
			a.acls[idx] = &aclEntry{tag: req.Tag, rules: rules}
			return one(&acl.ACLAddReplaceReply{ACLIndex: idx})
		}
		cur, ok := a.acls[req.ACLIndex]
		if !ok {
			return one(&acl.ACLAddReplaceReply{ACLIndex: req.ACLIndex, Retval: rvNoSuchEntry})
		}
		cur.tag, cur.rules = req.Tag, rules
		return one(&acl.ACLAddReplaceReply{ACLIndex: req.ACLIndex})
	}, &acl.ACLAddReplaceReply{})

	// acl_del: -6 missing, -142 applied inbound, -143 outbound.
	on(e, func(_ *Client, req *acl.ACLDel) []api.Message {
		if _, ok := a.acls[req.ACLIndex]; !ok {
			return one(&acl.ACLDelReply{Retval: rvNoSuchEntry})
		}
		for _, list := range a.inputs {
			if contains(list, req.ACLIndex) {
				return one(&acl.ACLDelReply{Retval: rvACLInUseInbound})
			}
		}
		for _, list := range a.outputs {
			if contains(list, req.ACLIndex) {
				return one(&acl.ACLDelReply{Retval: rvACLInUseOutbound})
			}
		}
		delete(a.acls, req.ACLIndex)
		a.ids.put(req.ACLIndex)
		return one(&acl.ACLDelReply{})
	}, &acl.ACLDelReply{})

	on(e, func(_ *Client, req *acl.ACLDump) []api.Message {
		var out []api.Message
		for idx := uint32(0); int(idx) < len(a.ids.used); idx++ {
			entry, ok := a.acls[idx]
			if !ok || (req.ACLIndex != invalidIndex && req.ACLIndex != idx) {
				continue
			}
			rules := append([]acl_types.ACLRule(nil), entry.rules...)
			out = append(out, &acl.ACLDetails{ACLIndex: idx, Tag: entry.tag, Count: uint32(len(rules)), R: rules})
		}
		return out
	}, &acl.ACLDetails{})

	// acl_interface_set_acl_list: -2 bad interface, -6 unknown ACL; an ACL
	// twice in one direction fails inside and the handler answers 1
	// (rv = rv_out || rv_in).
	on(e, func(_ *Client, req *acl.ACLInterfaceSetACLList) []api.Message {
		idx := uint32(req.SwIfIndex)
		if _, ok := st.iface(idx); !ok {
			return one(&acl.ACLInterfaceSetACLListReply{Retval: rvInvalidSwIfIndex})
		}
		n := min(int(req.NInput), len(req.Acls))
		in, outList := req.Acls[:n], req.Acls[n:]
		for _, id := range req.Acls {
			if _, ok := a.acls[id]; !ok {
				return one(&acl.ACLInterfaceSetACLListReply{Retval: rvNoSuchEntry})
			}
		}
		for _, list := range [][]uint32{in, outList} {
			seen := map[uint32]bool{}
			for _, id := range list {
				if seen[id] {
					return one(&acl.ACLInterfaceSetACLListReply{Retval: 1})
				}
				seen[id] = true
			}
		}
		a.inputs[idx] = append([]uint32(nil), in...)
		a.outputs[idx] = append([]uint32(nil), outList...)
		return one(&acl.ACLInterfaceSetACLListReply{})
	}, &acl.ACLInterfaceSetACLListReply{})

	// acl_interface_list_dump: ~0 reports every interface, bound or not.
	on(e, func(_ *Client, req *acl.ACLInterfaceListDump) []api.Message {
		var out []api.Message
		for _, i := range st.sortedIfaces() {
			if uint32(req.SwIfIndex) != invalidIndex && uint32(req.SwIfIndex) != i.idx {
				continue
			}
			acls := append(append([]uint32{}, a.inputs[i.idx]...), a.outputs[i.idx]...)
			out = append(out, &acl.ACLInterfaceListDetails{SwIfIndex: interface_types.InterfaceIndex(i.idx),
				Count: uint8(len(acls)), NInput: uint8(len(a.inputs[i.idx])), Acls: acls})
		}
		return out
	}, &acl.ACLInterfaceListDetails{})
}
