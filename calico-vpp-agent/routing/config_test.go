package routing

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	libapiv3 "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"
	k8sv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
)

func calicoNode(name, v4, v6 string, as uint32, clusterID string, labels map[string]string) *libapiv3.Node {
	n := &libapiv3.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	n.Spec.BGP = &libapiv3.NodeBGPSpec{IPv4Address: v4, IPv6Address: v6, RouteReflectorClusterID: clusterID}
	if as != 0 {
		asn := numorstring.ASNumber(as)
		n.Spec.BGP.ASNumber = &asn
	}
	return n
}

func bgpConfig(name string, edit func(*apiv3.BGPConfigurationSpec)) *apiv3.BGPConfiguration {
	c := &apiv3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	edit(&c.Spec)
	return c
}

func bgpPeerRes(name string, edit func(*apiv3.BGPPeerSpec)) *apiv3.BGPPeer {
	p := &apiv3.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}}
	edit(&p.Spec)
	return p
}

func threeNodes() inputs.CalicoState {
	return inputs.CalicoState{
		Nodes: map[string]*libapiv3.Node{
			"node-a": calicoNode("node-a", "198.18.0.11/24", "2001:db8::11/64", 0, "", map[string]string{"rack": "1"}),
			"node-b": calicoNode("node-b", "198.18.0.12/24", "2001:db8::12/64", 0, "", map[string]string{"rack": "1"}),
			"node-c": calicoNode("node-c", "198.18.0.13/24", "", 64600, "", map[string]string{"rack": "2", "rr": "true"}),
			"nobgp":  {ObjectMeta: metav1.ObjectMeta{Name: "nobgp"}},
		},
		BGPConfigurations: map[string]*apiv3.BGPConfiguration{},
		BGPPeers:          map[string]*apiv3.BGPPeer{},
	}
}

func pk(s string, port uint16) PeerKey { return PeerKey{Address: netip.MustParseAddr(s), Port: port} }

func TestDesiredSpeaker(t *testing.T) {
	off := false
	as := numorstring.ASNumber(65001)
	secrets := func(name, key string) (string, error) {
		if name == "bgp" && key == "pw" {
			return "s3cret", nil
		}
		return "", errors.New("not found")
	}
	cases := []struct {
		name      string
		node      string
		edit      func(*inputs.CalicoState)
		check     func(t *testing.T, sp Speaker)
		wantError string
	}{
		{name: "mesh by default: one session per family both nodes have", node: "node-a", check: func(t *testing.T, sp Speaker) {
			if sp.AS != DefaultASNumber || sp.RouterID != netip.MustParseAddr("198.18.0.11") || sp.ListenPort != 179 {
				t.Errorf("global = %d %s %d", sp.AS, sp.RouterID, sp.ListenPort)
			}
			want := map[PeerKey]uint32{pk("198.18.0.12", 179): 64512, pk("2001:db8::12", 179): 64512, pk("198.18.0.13", 179): 64600}
			if len(sp.Peers) != len(want) {
				t.Fatalf("peers = %v", sp.Peers)
			}
			for k, a := range want {
				if p := sp.Peers[k]; p.AS != a || p.Source != "mesh" || p.RestartTime != DefaultRestartTime {
					t.Errorf("peer %s = %+v, want AS %d from the mesh", k, p, a)
				}
			}
		}},
		{name: "a node without BGP runs no speaker", node: "nobgp", check: func(t *testing.T, sp Speaker) {
			if sp.Enabled() {
				t.Errorf("speaker = %+v", sp)
			}
		}},
		{name: "default AS, port, mesh password and restart time", node: "node-a", edit: func(s *inputs.CalicoState) {
			s.BGPConfigurations["default"] = bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) {
				c.ASNumber, c.ListenPort = &as, 1790
				c.NodeMeshPassword = &apiv3.BGPPassword{SecretKeyRef: &k8sv1.SecretKeySelector{LocalObjectReference: k8sv1.LocalObjectReference{Name: "bgp"}, Key: "pw"}}
				c.NodeMeshMaxRestartTime = &metav1.Duration{Duration: 3 * time.Second}
			})
		}, check: func(t *testing.T, sp Speaker) {
			p := sp.Peers[pk("198.18.0.12", 1790)]
			if sp.AS != 65001 || sp.ListenPort != 1790 || p.AS != 65001 || p.Password != "s3cret" || p.RestartTime != 3*time.Second {
				t.Errorf("speaker AS %d port %d, peer %+v", sp.AS, sp.ListenPort, p)
			}
		}},
		{name: "mesh disabled, a global peer with port, and a per-node log level", node: "node-a", edit: func(s *inputs.CalicoState) {
			s.BGPConfigurations["default"] = bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) { c.NodeToNodeMeshEnabled = &off })
			s.BGPConfigurations["node.node-a"] = bgpConfig("node.node-a", func(c *apiv3.BGPConfigurationSpec) { c.LogSeverityScreen = "Debug" })
			s.BGPPeers["tor"] = bgpPeerRes("tor", func(p *apiv3.BGPPeerSpec) {
				p.PeerIP, p.ASNumber, p.KeepOriginalNextHop = "198.18.0.1:1179", 65000, true
				p.MaxRestartTime = &metav1.Duration{Duration: time.Minute}
			})
		}, check: func(t *testing.T, sp Speaker) {
			if len(sp.Peers) != 1 || sp.LogLevel != "Debug" {
				t.Fatalf("peers = %v, log level %q", sp.Peers, sp.LogLevel)
			}
			if p := sp.Peers[pk("198.18.0.1", 1179)]; p.AS != 65000 || !p.KeepNextHop || p.RestartTime != time.Minute || p.Source != "bgppeer/tor" {
				t.Errorf("peer = %+v", p)
			}
		}},
		{name: "node and nodeSelector scope peers; peerSelector peers with nodes", node: "node-a", edit: func(s *inputs.CalicoState) {
			s.BGPConfigurations["default"] = bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) { c.NodeToNodeMeshEnabled = &off })
			s.BGPPeers["other-node"] = bgpPeerRes("other-node", func(p *apiv3.BGPPeerSpec) { p.Node, p.PeerIP, p.ASNumber = "node-b", "198.18.0.1", 65000 })
			s.BGPPeers["rack1"] = bgpPeerRes("rack1", func(p *apiv3.BGPPeerSpec) {
				p.NodeSelector, p.PeerIP, p.ASNumber = "rack == '1'", "2001:db8::1", 65000
			})
			s.BGPPeers["to-rr"] = bgpPeerRes("to-rr", func(p *apiv3.BGPPeerSpec) { p.PeerSelector = "rr == 'true'" })
		}, check: func(t *testing.T, sp Speaker) {
			if _, ok := sp.Peers[pk("198.18.0.1", 179)]; ok {
				t.Error("a peer scoped to node-b applies to node-a")
			}
			if p, ok := sp.Peers[pk("2001:db8::1", 179)]; !ok || p.AS != 65000 {
				t.Errorf("rack peer = %+v", p)
			}
			if p, ok := sp.Peers[pk("198.18.0.13", 179)]; !ok || p.AS != 64600 || p.Node != "node-c" {
				t.Errorf("selected node peer = %+v", p)
			}
			if len(sp.Peers) != 2 {
				t.Errorf("peers = %v", sp.Peers)
			}
		}},
		{name: "a route reflector's peers outside its cluster are its clients", node: "node-c", edit: func(s *inputs.CalicoState) {
			s.Nodes["node-c"].Spec.BGP.RouteReflectorClusterID = "224.0.0.1"
			s.BGPConfigurations["default"] = bgpConfig("default", func(c *apiv3.BGPConfigurationSpec) { c.NodeToNodeMeshEnabled = &off })
			s.BGPPeers["clients"] = bgpPeerRes("clients", func(p *apiv3.BGPPeerSpec) { p.NodeSelector, p.PeerSelector = "rr == 'true'", "rack == '1'" })
		}, check: func(t *testing.T, sp Speaker) {
			for _, a := range []string{"198.18.0.11", "198.18.0.12"} {
				if p := sp.Peers[pk(a, 179)]; !p.RRClient {
					t.Errorf("peer %s = %+v, want a route-reflector client", a, p)
				}
			}
		}},
		{name: "Calico's mesh: per-node listen ports, route reflectors left out, the lower address (as text) waits", node: "node-a", edit: func(s *inputs.CalicoState) {
			s.BGPConfigurations["node.node-b"] = bgpConfig("node.node-b", func(c *apiv3.BGPConfigurationSpec) { c.ListenPort = 1179 })
			s.Nodes["node-c"].Spec.BGP.RouteReflectorClusterID = "224.0.0.1"
			s.Nodes["node-d"] = calicoNode("node-d", "198.18.0.9/24", "", 0, "", nil)
		}, check: func(t *testing.T, sp Speaker) {
			if _, ok := sp.Peers[pk("198.18.0.13", 179)]; ok {
				t.Error("a route reflector is in the mesh")
			}
			if p, ok := sp.Peers[pk("198.18.0.12", 1179)]; !ok || !p.Passive {
				t.Errorf("node-b at its own port: %+v (%v)", p, sp.Peers)
			}
			// "198.18.0.11" < "198.18.0.9" as text: node-a waits for node-d.
			if p := sp.Peers[pk("198.18.0.9", 179)]; !p.Passive {
				t.Errorf("node-d peer = %+v, want node-a to wait", p)
			}
			if rr, _ := DesiredSpeaker(func() inputs.CalicoState {
				st := threeNodes()
				st.Nodes["node-c"].Spec.BGP.RouteReflectorClusterID = "224.0.0.1"
				return st
			}(), "node-c", nil); len(rr.Peers) != 0 {
				t.Errorf("a route reflector joined the mesh: %v", rr.Peers)
			}
		}},
		{name: "bad peers are reported, the rest applies", node: "node-a", edit: func(s *inputs.CalicoState) {
			s.BGPPeers["bad-ip"] = bgpPeerRes("bad-ip", func(p *apiv3.BGPPeerSpec) { p.PeerIP, p.ASNumber = "not-an-ip", 65000 })
			s.BGPPeers["no-secret"] = bgpPeerRes("no-secret", func(p *apiv3.BGPPeerSpec) {
				p.PeerIP, p.ASNumber = "198.18.0.1", 65000
				p.Password = &apiv3.BGPPassword{SecretKeyRef: &k8sv1.SecretKeySelector{LocalObjectReference: k8sv1.LocalObjectReference{Name: "missing"}, Key: "pw"}}
			})
		}, wantError: `BGPPeer/bad-ip: spec.peerIP: "not-an-ip"`, check: func(t *testing.T, sp Speaker) {
			if len(sp.Peers) != 3 {
				t.Errorf("the mesh should still apply: %v", sp.Peers)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := threeNodes()
			if c.edit != nil {
				c.edit(&st)
			}
			sp, errs := DesiredSpeaker(st, c.node, secrets)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			joined := strings.Join(msgs, "\n")
			if (c.wantError == "") != (len(errs) == 0) || !strings.Contains(joined, c.wantError) {
				t.Errorf("errors = %q, want %q", joined, c.wantError)
			}
			if c.wantError != "" && !strings.Contains(joined, "BGPPeer/no-secret: spec.password: secret missing key pw") {
				t.Errorf("errors = %q, want the missing secret named", joined)
			}
			c.check(t, sp)
		})
	}
}

func TestParsePeerIP(t *testing.T) {
	for in, want := range map[string]PeerKey{
		"192.0.2.1": pk("192.0.2.1", 0), "192.0.2.1:1179": pk("192.0.2.1", 1179),
		"2001:db8::1": pk("2001:db8::1", 0), "[2001:db8::1]:1179": pk("2001:db8::1", 1179),
	} {
		if got, err := parsePeerIP(in); err != nil || got != want {
			t.Errorf("parsePeerIP(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parsePeerIP("192.0.2.1:x"); err == nil {
		t.Error("bad port accepted")
	}
}

func TestCachedSecrets(t *testing.T) {
	calls, fail := 0, false
	get := CachedSecrets(func(name, key string) (string, error) {
		calls++
		if fail {
			return "", errors.New("API server unreachable")
		}
		return name + "/" + key + "/" + fmt.Sprint(calls), nil
	}, time.Hour)
	if v, err := get("bgp", "pw"); err != nil || v != "bgp/pw/1" {
		t.Fatalf("first read: %q %v", v, err)
	}
	if v, _ := get("bgp", "pw"); v != "bgp/pw/1" || calls != 1 {
		t.Errorf("cached read: %q after %d calls", v, calls)
	}
	fail = true
	if _, err := get("other", "pw"); err == nil {
		t.Error("a never-read secret that fails must fail")
	}
	stale := CachedSecrets(func(name, key string) (string, error) {
		if fail {
			return "", errors.New("API server unreachable")
		}
		return "v1", nil
	}, 0)
	fail = false
	_, _ = stale("bgp", "pw")
	fail = true
	if v, err := stale("bgp", "pw"); err != nil || v != "v1" {
		t.Errorf("a failed re-read keeps the last value: %q %v", v, err)
	}
}
