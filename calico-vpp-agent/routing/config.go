// Package routing is the agent's routing manager: an embedded GoBGP
// speaker configured from Calico's BGP model, advertising this node's pod
// blocks, and the routes it learns installed in VPP's FIB (through IPIP or
// VXLAN tunnels when the pool asks for encapsulation).
//
// Computation is pure (config.go, advertise.go, install.go); the speaker
// (speaker.go) and the reconciler kinds (kinds.go) are the edges.
package routing

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	libapiv3 "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"
	"github.com/projectcalico/calico/libcalico-go/lib/selector"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

// DefaultASNumber is Calico's AS when nothing sets one.
const DefaultASNumber = 64512

// DefaultPort is BGP's port.
const DefaultPort = 179

// DefaultRestartTime is how long peers keep our routes while we restart
// (and we theirs), unless a BGPPeer's maxRestartTime says otherwise.
const DefaultRestartTime = 120 * time.Second

// Speaker is the BGP speaker a node runs. The zero Speaker (no AS) means
// the node does not run BGP (its Calico node has no BGP spec).
type Speaker struct {
	AS         uint32
	RouterID   netip.Addr // IPv4
	ListenPort uint16
	// NodeIPv4 and NodeIPv6 are the node's addresses (with the uplink's
	// prefix length): the next hops of what it advertises.
	NodeIPv4, NodeIPv6 netip.Prefix
	// LogLevel is BGPConfiguration's logSeverityScreen ("" = Info).
	LogLevel string
	Peers    map[PeerKey]Peer
}

// session is what of a peer GoBGP's session depends on: a change of
// anything else (who asked for it) must not reset the session.
func (p Peer) session() Peer {
	p.Source, p.Node = "", ""
	return p
}

// Enabled reports whether the node runs BGP.
func (s Speaker) Enabled() bool { return s.AS != 0 }

// PeerKey identifies a BGP session: the peer's address and port.
type PeerKey struct {
	Address netip.Addr
	Port    uint16
}

func (k PeerKey) String() string {
	return net.JoinHostPort(k.Address.String(), strconv.Itoa(int(k.Port)))
}

// Peer is one BGP session.
type Peer struct {
	PeerKey
	AS uint32
	// LocalAS overrides the speaker's AS towards this peer (0: none).
	LocalAS     uint32
	Password    string
	RRClient    bool
	KeepNextHop bool
	// RestartTime is the graceful-restart time announced to the peer.
	RestartTime time.Duration
	// Source names what asked for the session: "mesh" or "bgppeer/<name>".
	Source string
	// Node is the Calico node behind the peer, when it is one.
	Node string
	// Passive waits for the peer to connect. Between two Calico nodes the
	// one with the lower address waits, so the two never keep colliding.
	Passive bool
}

// SecretGetter returns a key of a Secret in the agent's namespace.
type SecretGetter func(name, key string) (string, error)

// ConfigError is a Calico resource the node cannot honour; the rest of the
// configuration still applies.
type ConfigError struct {
	Resource string // "BGPPeer/rack1"
	Field    string // "spec.peerIP"
	Err      error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Resource, e.Field, e.Err)
}

// nodeBGP is what the mesh needs of a Calico node.
type nodeBGP struct {
	name      string
	ipv4      netip.Prefix
	ipv6      netip.Prefix
	as        uint32
	clusterID string
	labels    map[string]string
}

func parseNode(n *libapiv3.Node, defaultAS uint32) (nodeBGP, bool) {
	if n == nil || n.Spec.BGP == nil {
		return nodeBGP{}, false
	}
	nb := nodeBGP{name: n.Name, as: defaultAS, clusterID: n.Spec.BGP.RouteReflectorClusterID, labels: n.Labels}
	if n.Spec.BGP.ASNumber != nil {
		nb.as = uint32(*n.Spec.BGP.ASNumber)
	}
	nb.ipv4 = parseNodeAddress(n.Spec.BGP.IPv4Address)
	nb.ipv6 = parseNodeAddress(n.Spec.BGP.IPv6Address)
	return nb, nb.ipv4.IsValid() || nb.ipv6.IsValid()
}

// parseNodeAddress reads Calico's "198.51.100.2/24" (or a bare address).
func parseNodeAddress(s string) netip.Prefix {
	if s == "" {
		return netip.Prefix{}
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.Prefix{}
}

// DesiredSpeaker computes node's speaker from Calico's BGP model. Peers
// that cannot be configured are left out and reported.
func DesiredSpeaker(st inputs.CalicoState, node string, secrets SecretGetter) (Speaker, []error) {
	var errs []error
	def := st.BGPConfigurations["default"]
	perNode := st.BGPConfigurations["node."+node]
	defaultAS := uint32(DefaultASNumber)
	if def != nil && def.Spec.ASNumber != nil {
		defaultAS = uint32(*def.Spec.ASNumber)
	}
	self, ok := parseNode(st.Nodes[node], defaultAS)
	if !ok {
		return Speaker{}, nil
	}
	sp := Speaker{AS: self.as, ListenPort: DefaultPort, NodeIPv4: self.ipv4, NodeIPv6: self.ipv6, Peers: map[PeerKey]Peer{}}
	sp.RouterID = routerID(self)
	for _, c := range []*apiv3.BGPConfiguration{def, perNode} {
		if c == nil {
			continue
		}
		if c.Spec.ListenPort != 0 {
			sp.ListenPort = c.Spec.ListenPort
		}
		if c.Spec.LogSeverityScreen != "" {
			sp.LogLevel = c.Spec.LogSeverityScreen
		}
	}

	nodes := map[string]nodeBGP{}
	for name, n := range st.Nodes {
		if nb, ok := parseNode(n, defaultAS); ok {
			nodes[name] = nb
		}
	}
	// listenPort is where a node listens: its own node.<name>
	// BGPConfiguration's port, else the default one's, else 179.
	listenPort := func(node string) uint16 {
		if c := st.BGPConfigurations["node."+node]; c != nil && c.Spec.ListenPort != 0 {
			return c.Spec.ListenPort
		}
		if def != nil && def.Spec.ListenPort != 0 {
			return def.Spec.ListenPort
		}
		return DefaultPort
	}
	// The node-to-node mesh, unless disabled. Route reflectors stay out
	// of it (as in Calico): they peer through BGPPeers.
	meshOn := def == nil || def.Spec.NodeToNodeMeshEnabled == nil || *def.Spec.NodeToNodeMeshEnabled
	if meshOn && self.clusterID == "" {
		password, restart := "", DefaultRestartTime
		if def != nil && def.Spec.NodeMeshPassword != nil {
			p, err := peerPassword(def.Spec.NodeMeshPassword, secrets)
			if err != nil {
				errs = append(errs, &ConfigError{"BGPConfiguration/default", "spec.nodeMeshPassword", err})
			}
			password = p
		}
		if def != nil && def.Spec.NodeMeshMaxRestartTime != nil {
			restart = def.Spec.NodeMeshMaxRestartTime.Duration
		}
		for _, other := range sortedNodes(nodes) {
			if other.name == node || other.clusterID != "" {
				continue
			}
			for _, addr := range peerAddresses(self, other) {
				k := PeerKey{Address: addr, Port: listenPort(other.name)}
				sp.Peers[k] = Peer{PeerKey: k, AS: other.as, Password: password, RestartTime: restart, Source: "mesh", Node: other.name,
					Passive: lowerEnd(self, addr)}
			}
		}
	}
	// Explicit peers, which take precedence over the mesh.
	names := make([]string, 0, len(st.BGPPeers))
	for name := range st.BGPPeers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		peers, err := bgpPeer(st.BGPPeers[name], self, nodes, listenPort, secrets)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range peers {
			sp.Peers[p.PeerKey] = p
		}
	}
	return sp, errs
}

// peerAddresses are the addresses self peers with other on: one session
// per address family both have.
func peerAddresses(self, other nodeBGP) []netip.Addr {
	var out []netip.Addr
	if self.ipv4.IsValid() && other.ipv4.IsValid() && other.ipv4.Addr() != self.ipv4.Addr() {
		out = append(out, other.ipv4.Addr())
	}
	if self.ipv6.IsValid() && other.ipv6.IsValid() && other.ipv6.Addr() != self.ipv6.Addr() {
		out = append(out, other.ipv6.Addr())
	}
	return out
}

func sortedNodes(nodes map[string]nodeBGP) []nodeBGP {
	out := make([]nodeBGP, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// routerID is the node's IPv4 address, else (IPv6-only nodes) a stable
// 32-bit value derived from the node name, as BGP needs one.
func routerID(n nodeBGP) netip.Addr {
	if n.ipv4.IsValid() {
		return n.ipv4.Addr()
	}
	sum := sha256.Sum256([]byte(n.name))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(sum[:4])|0x01000000)
	return netip.AddrFrom4(b)
}

// bgpPeer returns the sessions a BGPPeer asks of this node (none when it
// selects other nodes).
func bgpPeer(p *apiv3.BGPPeer, self nodeBGP, nodes map[string]nodeBGP, listenPort func(node string) uint16, secrets SecretGetter) ([]Peer, error) {
	res := "BGPPeer/" + p.Name
	applies, err := peerAppliesTo(p, self)
	if err != nil || !applies {
		return nil, err
	}
	base := Peer{KeepNextHop: p.Spec.KeepOriginalNextHop, RestartTime: DefaultRestartTime, Source: "bgppeer/" + p.Name}
	if p.Spec.NextHopMode != nil && string(*p.Spec.NextHopMode) == string(apiv3.NextHopModeKeep) {
		base.KeepNextHop = true
	}
	if p.Spec.MaxRestartTime != nil {
		base.RestartTime = p.Spec.MaxRestartTime.Duration
	}
	if p.Spec.LocalASNumber != nil {
		base.LocalAS = uint32(*p.Spec.LocalASNumber)
	}
	if p.Spec.Password != nil {
		pw, err := peerPassword(p.Spec.Password, secrets)
		if err != nil {
			return nil, &ConfigError{res, "spec.password", err}
		}
		base.Password = pw
	}
	var out []Peer
	switch {
	case p.Spec.PeerIP != "":
		k, err := parsePeerIP(p.Spec.PeerIP)
		if err != nil {
			return nil, &ConfigError{res, "spec.peerIP", err}
		}
		if k.Port == 0 {
			k.Port = DefaultPort
		}
		if p.Spec.ASNumber == 0 {
			return nil, &ConfigError{res, "spec.asNumber", fmt.Errorf("required with spec.peerIP %q", p.Spec.PeerIP)}
		}
		peer := base
		peer.PeerKey, peer.AS = k, uint32(p.Spec.ASNumber)
		for _, n := range nodes {
			if (n.ipv4.IsValid() && n.ipv4.Addr() == k.Address) || (n.ipv6.IsValid() && n.ipv6.Addr() == k.Address) {
				peer.Node = n.name
				peer.RRClient = isRRClient(self, n)
			}
		}
		if familyOK(self, k.Address) {
			out = append(out, peer)
		}
	case p.Spec.PeerSelector != "":
		sel, err := selector.Parse(p.Spec.PeerSelector)
		if err != nil {
			return nil, &ConfigError{res, "spec.peerSelector", fmt.Errorf("%q: %w", p.Spec.PeerSelector, err)}
		}
		for _, n := range sortedNodes(nodes) {
			if n.name == self.name || !sel.Evaluate(n.labels) {
				continue
			}
			for _, a := range peerAddresses(self, n) {
				peer := base
				peer.PeerKey = PeerKey{Address: a, Port: listenPort(n.name)}
				peer.AS, peer.Node, peer.RRClient, peer.Passive = n.as, n.name, isRRClient(self, n), lowerEnd(self, a)
				if p.Spec.ASNumber != 0 {
					peer.AS = uint32(p.Spec.ASNumber)
				}
				out = append(out, peer)
			}
		}
	default:
		return nil, &ConfigError{res, "spec", fmt.Errorf("one of peerIP or peerSelector is required")}
	}
	return out, nil
}

// lowerEnd reports whether self's address of peer's family is the lower
// of the two: that end of a session between nodes waits to be called.
// Addresses compare as text, as Calico's BIRD nodes compare them, so that
// mixed clusters agree on which end waits.
func lowerEnd(self nodeBGP, peer netip.Addr) bool {
	local := self.ipv4
	if peer.Is6() {
		local = self.ipv6
	}
	return local.IsValid() && peer.String() > local.Addr().String()
}

// familyOK reports whether the node has an address of a's family to peer
// from.
func familyOK(self nodeBGP, a netip.Addr) bool {
	if a.Is4() {
		return self.ipv4.IsValid()
	}
	return self.ipv6.IsValid()
}

// isRRClient: a route reflector treats peers outside its cluster as its
// clients.
func isRRClient(self, peer nodeBGP) bool {
	return self.clusterID != "" && peer.clusterID != self.clusterID
}

func peerAppliesTo(p *apiv3.BGPPeer, self nodeBGP) (bool, error) {
	switch {
	case p.Spec.Node != "":
		return p.Spec.Node == self.name, nil
	case p.Spec.NodeSelector != "":
		sel, err := selector.Parse(p.Spec.NodeSelector)
		if err != nil {
			return false, &ConfigError{"BGPPeer/" + p.Name, "spec.nodeSelector", fmt.Errorf("%q: %w", p.Spec.NodeSelector, err)}
		}
		return sel.Evaluate(self.labels), nil
	}
	return true, nil // a global peer
}

// parsePeerIP reads Calico's peerIP: "192.0.2.1", "192.0.2.1:1179",
// "2001:db8::1" or "[2001:db8::1]:1179".
func parsePeerIP(s string) (PeerKey, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return PeerKey{Address: a}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return PeerKey{}, fmt.Errorf("%q: want an IP address, optionally with :port", s)
	}
	return PeerKey{Address: ap.Addr(), Port: ap.Port()}, nil
}

func peerPassword(p *apiv3.BGPPassword, secrets SecretGetter) (string, error) {
	if p.SecretKeyRef == nil {
		return "", nil
	}
	if secrets == nil {
		return "", fmt.Errorf("secret %s: no secret access", p.SecretKeyRef.Name)
	}
	v, err := secrets(p.SecretKeyRef.Name, p.SecretKeyRef.Key)
	if err != nil {
		return "", fmt.Errorf("secret %s key %s: %w", p.SecretKeyRef.Name, p.SecretKeyRef.Key, err)
	}
	return v, nil
}

// CachedSecrets wraps get: a value is re-read at most every ttl, and when
// a read fails the last value read is kept. A slow or briefly unreachable
// API server must neither stall each recomputation nor take sessions
// down by dropping their passwords.
func CachedSecrets(get SecretGetter, ttl time.Duration) SecretGetter {
	type entry struct {
		value string
		read  time.Time
	}
	var mu sync.Mutex
	cache := map[[2]string]entry{}
	return func(name, key string) (string, error) {
		k := [2]string{name, key}
		mu.Lock()
		e, ok := cache[k]
		mu.Unlock()
		if ok && time.Since(e.read) < ttl {
			return e.value, nil
		}
		v, err := get(name, key)
		if err != nil {
			if ok {
				return e.value, nil
			}
			return "", err
		}
		mu.Lock()
		cache[k] = entry{value: v, read: time.Now()}
		mu.Unlock()
		return v, nil
	}
}
