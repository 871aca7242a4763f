// Package services is the agent's kube-proxy: Kubernetes Services and their
// EndpointSlices become VPP cnat translations, one per virtual address,
// port and protocol, load-balancing to the ready endpoints.
package services

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// Key identifies a translation: cnat keys them by virtual endpoint and
// protocol.
type Key struct {
	Proto vpplink.IPProto
	VIP   netip.AddrPort
}

func (k Key) String() string { return k.Proto.String() + " " + k.VIP.String() }

// ParseKey reads what String wrote (journal entries).
func ParseKey(s string) (Key, error) {
	proto, vip, ok := strings.Cut(s, " ")
	if !ok {
		return Key{}, fmt.Errorf("translation key %q: want <proto> <address:port>", s)
	}
	p, err := parseProto(proto)
	if err != nil {
		return Key{}, fmt.Errorf("translation key %q: %w", s, err)
	}
	ap, err := netip.ParseAddrPort(vip)
	if err != nil {
		return Key{}, fmt.Errorf("translation key %q: %w", s, err)
	}
	return Key{Proto: p, VIP: ap}, nil
}

func parseProto(s string) (vpplink.IPProto, error) {
	for _, p := range []vpplink.IPProto{vpplink.ProtoTCP, vpplink.ProtoUDP, vpplink.ProtoSCTP} {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

func protoOf(p corev1.Protocol) (vpplink.IPProto, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return vpplink.ProtoTCP, true
	case corev1.ProtocolUDP:
		return vpplink.ProtoUDP, true
	case corev1.ProtocolSCTP:
		return vpplink.ProtoSCTP, true
	}
	return 0, false
}

// Inputs is what the translations are computed from.
type Inputs struct {
	Services []*corev1.Service
	Slices   []*discoveryv1.EndpointSlice
	// Node is this node's name (traffic policies Local keep its endpoints).
	Node string
	// NodeAddrs are the node's own addresses: NodePort services listen there.
	NodeAddrs []netip.Addr
}

// backend is one ready endpoint of a service port, with the node it runs
// on.
type backend struct {
	ep    netip.AddrPort
	local bool
}

// Desired computes the translations the node wants. A service that cannot
// be expressed (a virtual address another service already holds, an
// unsupported protocol) is left out and reported; the others are unaffected.
// Virtual addresses without a ready endpoint get no translation.
func Desired(in Inputs) (map[Key]vpplink.Translation, []error) {
	svcs := slices.Clone(in.Services)
	// Deterministic conflict resolution: the oldest name wins.
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range in.Slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			slicesBySvc[s.Namespace+"/"+name] = append(slicesBySvc[s.Namespace+"/"+name], s)
		}
	}

	out := map[Key]vpplink.Translation{}
	owner := map[Key]string{}
	var errs []error
	for _, svc := range svcs {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		name := svc.Namespace + "/" + svc.Name
		for _, sp := range svc.Spec.Ports {
			proto, ok := protoOf(sp.Protocol)
			if !ok {
				errs = append(errs, fmt.Errorf("service %s: port %q: protocol %q is not supported", name, sp.Name, sp.Protocol))
				continue
			}
			backends := endpointsOf(slicesBySvc[name], sp, in.Node)
			// add translates addr:port. Traffic from outside the cluster
			// (external) to an endpoint on another node leaves with the
			// node's address as source, on a port VPP allocates: the reply
			// must come back through this node to be translated back.
			add := func(addr netip.Addr, port uint16, realIP, localOnly, external bool) {
				var bs []vpplink.Backend
				snat := false
				for _, b := range backends {
					if b.ep.Addr().Is4() != addr.Is4() || (localOnly && !b.local) {
						continue
					}
					be := vpplink.Backend{Dst: vpplink.Endpoint{Addr: b.ep.Addr(), Port: b.ep.Port()}}
					if src, ok := nodeAddrOf(in.NodeAddrs, addr.Is4()); ok && external && !b.local {
						be.Src, snat = vpplink.Endpoint{Addr: src}, true
					}
					bs = append(bs, be)
				}
				if len(bs) == 0 || port == 0 {
					return
				}
				key := Key{Proto: proto, VIP: netip.AddrPortFrom(addr, port)}
				if prev, taken := owner[key]; taken && prev != name {
					errs = append(errs, fmt.Errorf("service %s: %s is already service %s's", name, key, prev))
					return
				}
				owner[key] = name
				out[key] = vpplink.Translation{VIP: vpplink.Endpoint{Addr: addr, Port: port}, Proto: proto, IsRealIP: realIP,
					LBType: vpplink.LBDefault, AllocPort: snat, Backends: bs}
			}
			internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
			externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
			port := uint16(sp.Port)
			for _, ip := range clusterIPs(svc) {
				add(ip, port, false, internalLocal, false)
			}
			for _, s := range svc.Spec.ExternalIPs {
				if ip, err := netip.ParseAddr(s); err == nil {
					add(ip.Unmap(), port, false, externalLocal, true)
				}
			}
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ip, err := netip.ParseAddr(ing.IP); err == nil {
					add(ip.Unmap(), port, false, externalLocal, true)
				}
			}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				for _, ip := range in.NodeAddrs {
					add(ip, uint16(sp.NodePort), true, externalLocal, true)
				}
			}
		}
	}
	return out, errs
}

// nodeAddrOf is the node's first address of a family.
func nodeAddrOf(addrs []netip.Addr, is4 bool) (netip.Addr, bool) {
	for _, a := range addrs {
		if a.Is4() == is4 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// clusterIPs are the service's cluster addresses (none when headless).
func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// endpointsOf are the ready endpoints of a service port across the
// service's slices, each once, sorted. A slice port matches by name and
// protocol, as kube-proxy matches them.
func endpointsOf(svcSlices []*discoveryv1.EndpointSlice, sp corev1.ServicePort, node string) []backend {
	seen := map[netip.AddrPort]bool{}
	var out []backend
	for _, s := range svcSlices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port, ok := slicePort(s, sp)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				ap := netip.AddrPortFrom(ip.Unmap(), port)
				if seen[ap] {
					continue
				}
				seen[ap] = true
				out = append(out, backend{ep: ap, local: ep.NodeName != nil && *ep.NodeName == node})
			}
		}
	}
	slices.SortFunc(out, func(a, b backend) int { return a.ep.Compare(b.ep) })
	return out
}

func slicePort(s *discoveryv1.EndpointSlice, sp corev1.ServicePort) (uint16, bool) {
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == cmp.Or(sp.Protocol, corev1.ProtocolTCP) && p.Port != nil && *p.Port > 0 && *p.Port < 65536 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// String renders a translation for logs and tests: "tcp 198.19.240.10:80
// -> 198.19.1.2:8080,198.19.2.2:8080 from 198.18.0.11" (from: the source
// the backend sees).
func String(t vpplink.Translation) string {
	var bs []string
	for _, b := range t.Backends {
		s := b.Dst.String()
		if b.Src.Addr.IsValid() {
			s += " from " + b.Src.Addr.String()
		}
		bs = append(bs, s)
	}
	s := t.Proto.String() + " " + t.VIP.String() + " -> " + strings.Join(bs, ",")
	if t.IsRealIP {
		s += " (node address)"
	}
	return s
}
