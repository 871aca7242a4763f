package fakevpp

import (
	"net/netip"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/cnat"
	"go.fd.io/govpp/binapi/ip_types"
)

// cnatKey is how cnat finds a translation: (address, port, proto), or
// (interface, port, proto) for an interface VIP.
type cnatKey struct {
	vip       netip.Addr
	swIfIndex uint32
	port      uint16
	proto     ip_types.IPProto
}

type cnatTranslation struct {
	id     uint32
	key    cnatKey
	vip    cnat.CnatEndpoint
	flags  uint8
	lbType cnat.CnatLbType
	paths  []cnat.CnatEndpointTuple
	realIP bool
}

type cnatState struct {
	ids          pool[struct{}]
	translations map[uint32]*cnatTranslation
	snat         cnat.CnatGetSnatAddressesReply
	excluded     map[netip.Prefix]bool // a set: re-adding does not count
	policy       cnat.CnatSnatPolicies
	ifTables     map[uint32]map[cnat.CnatSnatPolicyTable]bool
}

func newCnatState() cnatState {
	return cnatState{translations: map[uint32]*cnatTranslation{}, excluded: map[netip.Prefix]bool{},
		ifTables: map[uint32]map[cnat.CnatSnatPolicyTable]bool{}}
}

func (c *cnatState) forgetInterface(idx uint32) { delete(c.ifTables, idx) }

// knownProto follows ip_proto_decode: the protocols of
// src/vnet/ip/protocols.def (0-142, and 255 "reserved").
func knownProto(p ip_types.IPProto) bool {
	return p <= 142 || p == 255
}

func (e *Engine) registerCnat() {
	c := &e.st.cnat
	st := &e.st
	// cnat_translation_update (src/plugins/cnat/cnat_translation.c): keyed
	// by (vip, port, proto); an existing key keeps its id and gets the new
	// paths and flags but keeps its lb_type; a new one takes the lowest
	// recycled pool index.
	on(e, func(_ *Client, req *cnat.CnatTranslationUpdate) []api.Message {
		t := req.Translation
		if !knownProto(t.IPProto) {
			return one(&cnat.CnatTranslationUpdateReply{Retval: rvInvalidProtocol})
		}
		if len(t.Paths) == 0 {
			// VPP 25.10 aborts on this (vec_validate(paths, n_paths-1));
			// the fake refuses it loudly instead of crashing.
			e.log.Error("cnat_translation_update with no paths: real VPP would abort")
			return one(&cnat.CnatTranslationUpdateReply{Retval: rvInvalidValue})
		}
		// Interface endpoints are not checked: they stay unresolved (the
		// fake resolves none) and dump with a zero address.
		key := cnatKey{port: t.Vip.Port, proto: t.IPProto, swIfIndex: uint32(t.Vip.SwIfIndex)}
		if key.swIfIndex == invalidIndex {
			key.vip = fromAddress(t.Vip.Addr)
		}
		for _, cur := range c.translations {
			if cur.key == key {
				cur.paths = unresolvedPaths(t.Paths)
				cur.flags = t.Flags
				cur.realIP = t.IsRealIP != 0
				return one(&cnat.CnatTranslationUpdateReply{ID: cur.id})
			}
		}
		id := c.ids.get()
		c.translations[id] = &cnatTranslation{id: id, key: key, vip: unresolved(t.Vip), flags: t.Flags, lbType: t.LbType,
			paths: unresolvedPaths(t.Paths), realIP: t.IsRealIP != 0}
		return one(&cnat.CnatTranslationUpdateReply{ID: id})
	}, &cnat.CnatTranslationUpdateReply{})

	on(e, func(_ *Client, req *cnat.CnatTranslationDel) []api.Message {
		if _, ok := c.translations[req.ID]; !ok {
			return one(&cnat.CnatTranslationDelReply{Retval: rvNoSuchEntry})
		}
		delete(c.translations, req.ID)
		c.ids.put(req.ID)
		return one(&cnat.CnatTranslationDelReply{})
	}, &cnat.CnatTranslationDelReply{})

	// cnat_translation_dump: pool order; flags, is_real_ip and the flow
	// hash are not filled in.
	on(e, func(_ *Client, _ *cnat.CnatTranslationDump) []api.Message {
		var out []api.Message
		for id := uint32(0); int(id) < len(c.ids.used); id++ {
			t, ok := c.translations[id]
			if !ok {
				continue
			}
			paths := append([]cnat.CnatEndpointTuple(nil), t.paths...)
			out = append(out, &cnat.CnatTranslationDetails{Translation: cnat.CnatTranslation{
				Vip: t.vip, ID: t.id, IPProto: t.key.proto, LbType: t.lbType, NPaths: uint32(len(paths)), Paths: paths}})
		}
		return out
	}, &cnat.CnatTranslationDetails{})

	on(e, func(_ *Client, req *cnat.CnatSetSnatAddresses) []api.Message {
		c.snat = cnat.CnatGetSnatAddressesReply{SnatIP4: req.SnatIP4, SnatIP6: req.SnatIP6, SwIfIndex: req.SwIfIndex}
		return one(&cnat.CnatSetSnatAddressesReply{})
	}, &cnat.CnatSetSnatAddressesReply{})

	on(e, func(_ *Client, _ *cnat.CnatGetSnatAddresses) []api.Message {
		r := c.snat
		return one(&r)
	}, &cnat.CnatGetSnatAddressesReply{})

	// cnat_set_snat_policy: unknown policies answer +1.
	on(e, func(_ *Client, req *cnat.CnatSetSnatPolicy) []api.Message {
		if req.Policy > cnat.CNAT_POLICY_K8S {
			return one(&cnat.CnatSetSnatPolicyReply{Retval: 1})
		}
		c.policy = req.Policy
		return one(&cnat.CnatSetSnatPolicyReply{})
	}, &cnat.CnatSetSnatPolicyReply{})

	// cnat_snat_policy_add_del_exclude_pfx (cnat_snat_policy.c): a set of
	// prefixes, host bits masked; deleting a missing one answers +1.
	on(e, func(_ *Client, req *cnat.CnatSnatPolicyAddDelExcludePfx) []api.Message {
		p := fromPrefix(req.Prefix).Masked()
		if req.IsAdd != 0 {
			c.excluded[p] = true
			return one(&cnat.CnatSnatPolicyAddDelExcludePfxReply{})
		}
		if !c.excluded[p] {
			return one(&cnat.CnatSnatPolicyAddDelExcludePfxReply{Retval: 1})
		}
		delete(c.excluded, p)
		return one(&cnat.CnatSnatPolicyAddDelExcludePfxReply{})
	}, &cnat.CnatSnatPolicyAddDelExcludePfxReply{})

	// cnat_snat_policy_add_del_if: -2 bad index, -7 table > 3.
	on(e, func(_ *Client, req *cnat.CnatSnatPolicyAddDelIf) []api.Message {
		if _, ok := st.iface(uint32(req.SwIfIndex)); !ok {
			return one(&cnat.CnatSnatPolicyAddDelIfReply{Retval: rvInvalidSwIfIndex})
		}
		if req.Table > cnat.CNAT_POLICY_HOST {
			return one(&cnat.CnatSnatPolicyAddDelIfReply{Retval: rvInvalidValue})
		}
		idx := uint32(req.SwIfIndex)
		if c.ifTables[idx] == nil {
			c.ifTables[idx] = map[cnat.CnatSnatPolicyTable]bool{}
		}
		if req.IsAdd != 0 {
			c.ifTables[idx][req.Table] = true
		} else {
			delete(c.ifTables[idx], req.Table)
		}
		return one(&cnat.CnatSnatPolicyAddDelIfReply{})
	}, &cnat.CnatSnatPolicyAddDelIfReply{})
}

// unresolved returns the endpoint as cnat dumps it: an interface endpoint
// shows a zero address until the interface has one (never, in the fake).
func unresolved(ep cnat.CnatEndpoint) cnat.CnatEndpoint {
	if uint32(ep.SwIfIndex) != invalidIndex {
		ep.Addr = ip_types.Address{Af: ep.IfAf}
	}
	return ep
}

func unresolvedPaths(paths []cnat.CnatEndpointTuple) []cnat.CnatEndpointTuple {
	out := make([]cnat.CnatEndpointTuple, len(paths))
	for i, p := range paths {
		out[i] = cnat.CnatEndpointTuple{DstEp: unresolved(p.DstEp), SrcEp: unresolved(p.SrcEp), Flags: p.Flags}
	}
	return out
}
