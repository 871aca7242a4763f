package services

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

func ptr[T any](v T) *T { return &v }

type svcOpt func(*corev1.Service)

func service(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"198.19.240.10"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// endpoint is "<ip>[@node][!]" (! not ready).
func slice(svc, name string, family discoveryv1.AddressType, port int32, endpoints ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: family,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(port)}},
	}
	for _, e := range endpoints {
		ready := !strings.HasSuffix(e, "!")
		e = strings.TrimSuffix(e, "!")
		ip, node, _ := strings.Cut(e, "@")
		ep := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)}}
		if node != "" {
			ep.NodeName = ptr(node)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

func render(m map[Key]vpplink.Translation) []string {
	var out []string
	for _, t := range m {
		out = append(out, String(t))
	}
	slices.Sort(out)
	return out
}

func TestDesired(t *testing.T) {
	nodeAddrs := []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("2001:db8::11")}
	cases := []struct {
		name     string
		services []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		want     []string
		wantErr  []string
	}{
		{name: "cluster IP to the ready endpoints, on the target port",
			services: []*corev1.Service{service("web")},
			slices:   []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3@node-a", "198.19.2.2@node-b", "198.19.1.9!")},
			want:     []string{"tcp 198.19.240.10:80 -> 198.19.1.3:8080,198.19.2.2:8080"}},
		{name: "dual stack: each family its endpoints",
			services: []*corev1.Service{service("web", func(s *corev1.Service) { s.Spec.ClusterIPs = append(s.Spec.ClusterIPs, "2001:db8:fe::10") })},
			slices: []*discoveryv1.EndpointSlice{
				slice("web", "web-4", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3"),
				slice("web", "web-6", discoveryv1.AddressTypeIPv6, 8080, "2001:db8:1::3"),
			},
			want: []string{"tcp 198.19.240.10:80 -> 198.19.1.3:8080", "tcp [2001:db8:fe::10]:80 -> [2001:db8:1::3]:8080"}},
		{name: "an endpoint in two slices is one backend",
			services: []*corev1.Service{service("web")},
			slices: []*discoveryv1.EndpointSlice{
				slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3"),
				slice("web", "web-2", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3", "198.19.1.4"),
			},
			want: []string{"tcp 198.19.240.10:80 -> 198.19.1.3:8080,198.19.1.4:8080"}},
		{name: "no ready endpoint: no translation",
			services: []*corev1.Service{service("web")},
			slices:   []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3!")}},
		{name: "another service's slices do not count",
			services: []*corev1.Service{service("web")},
			slices:   []*discoveryv1.EndpointSlice{slice("db", "db-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3")}},
		{name: "headless and external-name services are not translated",
			services: []*corev1.Service{
				service("headless", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"None"} }),
				service("ext", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName; s.Spec.ClusterIPs = nil }),
			},
			slices: []*discoveryv1.EndpointSlice{slice("headless", "h-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3")}},
		{name: "node port: the node's addresses too, as real addresses; other nodes' endpoints see the node as source",
			services: []*corev1.Service{service("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 30080 })},
			slices:   []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3@node-a", "198.19.2.2@node-b")},
			want: []string{
				"tcp 198.18.0.11:30080 -> 198.19.1.3:8080,198.19.2.2:8080 from 198.18.0.11 (node address)",
				"tcp 198.19.240.10:80 -> 198.19.1.3:8080,198.19.2.2:8080",
			}},
		{name: "external traffic policy Local: node port and external addresses keep this node's endpoints",
			services: []*corev1.Service{service("web", func(s *corev1.Service) {
				s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeLoadBalancer, 30080
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.ExternalIPs = []string{"203.0.113.7"}
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.8"}}
			})},
			slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3@node-a", "198.19.2.2@node-b")},
			want: []string{
				"tcp 198.18.0.11:30080 -> 198.19.1.3:8080 (node address)",
				"tcp 198.19.240.10:80 -> 198.19.1.3:8080,198.19.2.2:8080",
				"tcp 203.0.113.7:80 -> 198.19.1.3:8080",
				"tcp 203.0.113.8:80 -> 198.19.1.3:8080",
			}},
		{name: "internal traffic policy Local: the cluster IP keeps this node's endpoints",
			services: []*corev1.Service{service("web", func(s *corev1.Service) {
				s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
			})},
			slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3@node-a", "198.19.2.2@node-b")},
			want:   []string{"tcp 198.19.240.10:80 -> 198.19.1.3:8080"}},
		{name: "ports match by name and protocol",
			services: []*corev1.Service{service("dns", func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}, {Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53}}
			})},
			slices: []*discoveryv1.EndpointSlice{{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "dns-1", Labels: map[string]string{discoveryv1.LabelServiceName: "dns"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{
					{Name: ptr("dns"), Protocol: ptr(corev1.ProtocolUDP), Port: ptr(int32(5353))},
					{Name: ptr("dns-tcp"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(5354))},
				},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"198.19.1.3"}}},
			}},
			want: []string{"tcp 198.19.240.10:53 -> 198.19.1.3:5354", "udp 198.19.240.10:53 -> 198.19.1.3:5353"}},
		{name: "an external address two services claim goes to the first by name",
			services: []*corev1.Service{
				service("b", func(s *corev1.Service) {
					s.Spec.ClusterIPs, s.Spec.ExternalIPs = []string{"198.19.240.12"}, []string{"203.0.113.7"}
				}),
				service("a", func(s *corev1.Service) {
					s.Spec.ClusterIPs, s.Spec.ExternalIPs = []string{"198.19.240.11"}, []string{"203.0.113.7"}
				}),
			},
			slices: []*discoveryv1.EndpointSlice{
				slice("a", "a-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.3"),
				slice("b", "b-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.1.4"),
			},
			want: []string{
				"tcp 198.19.240.11:80 -> 198.19.1.3:8080",
				"tcp 198.19.240.12:80 -> 198.19.1.4:8080",
				"tcp 203.0.113.7:80 -> 198.19.1.3:8080 from 198.18.0.11", // node unknown: treated as remote
			},
			wantErr: []string{"service default/b: tcp 203.0.113.7:80 is already service default/a's"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := Desired(Inputs{Services: c.services, Slices: c.slices, Node: "node-a", NodeAddrs: nodeAddrs[:1]})
			if r := render(got); !slices.Equal(r, c.want) {
				t.Errorf("translations\n got %q\nwant %q", r, c.want)
			}
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if !slices.Equal(msgs, c.wantErr) {
				t.Errorf("errors %q, want %q", msgs, c.wantErr)
			}
			for k := range got {
				if back, err := ParseKey(k.String()); err != nil || back != k {
					t.Errorf("ParseKey(%q) = %v, %v", k, back, err)
				}
			}
		})
	}
}

func TestParseKeyRefusesGarbage(t *testing.T) {
	for _, s := range []string{"", "tcp", "icmp 198.19.240.10:80", "tcp 198.19.240.10", "udp [2001:db8::1]"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

// A translation that rewrites sources asks VPP for a fresh source port
// (two clients behind the same node address must not collide); others
// keep the client's port.
func TestDesiredAllocatesPortsWithSNAT(t *testing.T) {
	svc := service("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 30080 })
	got, _ := Desired(Inputs{Services: []*corev1.Service{svc}, Node: "node-a", NodeAddrs: []netip.Addr{netip.MustParseAddr("198.18.0.11")},
		Slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", discoveryv1.AddressTypeIPv4, 8080, "198.19.2.2@node-b")}})
	for k, tr := range got {
		if want := tr.IsRealIP; tr.AllocPort != want {
			t.Errorf("%s: AllocPort %v, want %v", k, tr.AllocPort, want)
		}
	}
	if len(got) != 2 {
		t.Fatalf("got %d translations, want the cluster IP and the node port", len(got))
	}
}
