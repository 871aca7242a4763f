package cni

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

func testInterfaces(t *testing.T) *config.Interfaces {
	t.Helper()
	cfg, _, err := config.Load([]string{"NODENAME=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Interfaces
}

// validAdd is what Calico's CNI plugin sends for a dual-stack pod.
func validAdd() *proto.AddRequest {
	return &proto.AddRequest{
		InterfaceName:            "eth0",
		Netns:                    "/var/run/netns/cni-1234",
		DesiredHostInterfaceName: "cali1a2b3c4d5e6",
		Settings:                 &proto.ContainerSettings{Mtu: 1450},
		ContainerIps: []*proto.IPConfig{
			{Address: "198.18.100.2/32", Gateway: "<nil>"}, // as Calico's client sends "no gateway"
			{Address: "2001:db8:100::2/128", Gateway: "2001:db8:100::1"},
		},
		ContainerRoutes: []string{"0.0.0.0/0", "::/0"},
		Workload: &proto.WorkloadIDs{
			Namespace: "default", Pod: "web-0", Endpoint: "eth0", Orchestrator: "k8s", Node: "node-a",
			Annotations: map[string]string{},
		},
	}
}

func TestParseAdd(t *testing.T) {
	ifs := testInterfaces(t)
	def := ifs.DefaultPodIfSpec
	cases := []struct {
		name    string
		edit    func(r *proto.AddRequest)
		check   func(t *testing.T, p Pod)
		wantErr []string // every substring must appear
	}{
		{name: "dual stack", check: func(t *testing.T, p Pod) {
			want := Pod{
				Key:               Key{Netns: "/var/run/netns/cni-1234", InterfaceName: "eth0"},
				HostInterfaceName: "cali1a2b3c4d5e6",
				Addresses:         []netip.Prefix{netip.MustParsePrefix("198.18.100.2/32"), netip.MustParsePrefix("2001:db8:100::2/128")},
				Routes:            []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
				MTU:               1450,
				Spec:              def,
				Workload:          Workload{Namespace: "default", Pod: "web-0", Endpoint: "eth0", Orchestrator: "k8s", Node: "node-a"},
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got  %+v\nwant %+v", p, want)
			}
			if !p.HasIPv4() || !p.HasIPv6() {
				t.Error("families not reported")
			}
		}},
		{name: "annotation overrides, bounded by maxPodIfSpec", edit: func(r *proto.AddRequest) {
			r.Workload.Annotations[InterfacesSpecAnnotation] = `{"eth0": {"rx": 4, "tx": 64, "rxqsz": 2048, "isl3": false}, "net1": {"rx": 2}}`
		}, check: func(t *testing.T, p Pod) {
			s := p.Spec
			if s.NumRxQueues != 4 || s.NumTxQueues != ifs.MaxPodIfSpec.NumTxQueues || s.RxQueueSize != 2048 ||
				s.TxQueueSize != def.TxQueueSize || s.IsL3 == nil || *s.IsL3 || s.RxMode != def.RxMode {
				t.Errorf("spec = %+v", s)
			}
		}},
		{name: "annotation for other interfaces only", edit: func(r *proto.AddRequest) {
			r.Workload.Annotations[InterfacesSpecAnnotation] = `{"net1": {"rx": 2}}`
		}, check: func(t *testing.T, p Pod) {
			if !reflect.DeepEqual(p.Spec, def) {
				t.Errorf("spec = %+v, want the default", p.Spec)
			}
		}},
		{name: "pod name from the workload name", edit: func(r *proto.AddRequest) { r.Workload.Pod, r.Workload.Name = "", "web-1" },
			check: func(t *testing.T, p Pod) {
				if p.Workload.Pod != "web-1" {
					t.Errorf("pod = %q", p.Workload.Pod)
				}
			}},
		// calico-ipam answers with its block's length; the pod gets /32.
		{name: "addresses are host prefixes", edit: func(r *proto.AddRequest) {
			r.ContainerIps[0].Address, r.ContainerIps[1].Address = "198.18.100.2/26", "2001:db8:100::2/122"
		}, check: func(t *testing.T, p Pod) {
			want := []netip.Prefix{netip.MustParsePrefix("198.18.100.2/32"), netip.MustParsePrefix("2001:db8:100::2/128")}
			if !reflect.DeepEqual(p.Addresses, want) {
				t.Errorf("addresses = %v, want %v", p.Addresses, want)
			}
		}},
		{name: "routes are masked", edit: func(r *proto.AddRequest) { r.ContainerRoutes = []string{"198.51.100.7/24"} },
			check: func(t *testing.T, p Pod) {
				if p.Routes[0] != netip.MustParsePrefix("198.51.100.0/24") {
					t.Errorf("routes = %v", p.Routes)
				}
			}},
		{name: "missing netns and interface", edit: func(r *proto.AddRequest) { r.Netns, r.InterfaceName = "", "" },
			wantErr: []string{"netns: required", "interface_name: required"}},
		{name: "relative netns", edit: func(r *proto.AddRequest) { r.Netns = "cni-1234" },
			wantErr: []string{`netns: "cni-1234" is not an absolute path`}},
		{name: "bad interface names", edit: func(r *proto.AddRequest) {
			r.InterfaceName, r.DesiredHostInterfaceName = "eth0/1", "cali0123456789abcdef"
		}, wantErr: []string{`interface_name: invalid interface name "eth0/1"`, `desired_host_interface_name: invalid interface name "cali0123456789abcdef"`}},
		{name: "no host interface name", edit: func(r *proto.AddRequest) { r.DesiredHostInterfaceName = "" },
			wantErr: []string{"desired_host_interface_name: required"}},
		{name: "no address", edit: func(r *proto.AddRequest) { r.ContainerIps = nil },
			wantErr: []string{"container_ips: at least one address is required"}},
		{name: "malformed address and gateway", edit: func(r *proto.AddRequest) {
			r.ContainerIps = []*proto.IPConfig{{Address: "198.18.100.2"}, {Address: "198.18.100.3/32", Gateway: "gw"}}
		}, wantErr: []string{`container_ips[0].address: "198.18.100.2" is not an address with a prefix length`, `container_ips[1].gateway: "gw" is not an IP address`}},
		{name: "duplicate address", edit: func(r *proto.AddRequest) {
			r.ContainerIps = append(r.ContainerIps, &proto.IPConfig{Address: "198.18.100.2/24"})
		}, wantErr: []string{"container_ips[2].address: 198.18.100.2 repeats container_ips[0]"}},
		{name: "malformed route", edit: func(r *proto.AddRequest) { r.ContainerRoutes = []string{"default"} },
			wantErr: []string{`container_routes[0]: "default" is not a prefix`}},
		// Calico's plugin sends 0.0.0.0/0 and ::/0 to an IPv4-only pod.
		{name: "route without an address of its family is skipped", edit: func(r *proto.AddRequest) { r.ContainerIps = r.ContainerIps[:1] },
			check: func(t *testing.T, p Pod) {
				if want := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}; !reflect.DeepEqual(p.Routes, want) {
					t.Errorf("routes = %v, want %v", p.Routes, want)
				}
			}},
		{name: "MTU too small for IPv6", edit: func(r *proto.AddRequest) { r.Settings.Mtu = 1000 },
			wantErr: []string{"settings.mtu: 1000 out of range (want 1280-65535"}},
		{name: "annotation not JSON", edit: func(r *proto.AddRequest) { r.Workload.Annotations[InterfacesSpecAnnotation] = `eth0=2` },
			wantErr: []string{`workload.annotations["cni.projectcalico.org/vppInterfacesSpec"]: "eth0=2" is not a JSON object`}},
		{name: "annotation with an unknown field", edit: func(r *proto.AddRequest) {
			r.Workload.Annotations[InterfacesSpecAnnotation] = `{"eth0": {"queues": 2}}`
		}, wantErr: []string{`unknown field "queues"`}},
		{name: "annotation out of range", edit: func(r *proto.AddRequest) {
			r.Workload.Annotations[InterfacesSpecAnnotation] = `{"eth0": {"rxqsz": 1000, "rxMode": "fast"}}`
		}, wantErr: []string{
			`workload.annotations["cni.projectcalico.org/vppInterfacesSpec"]["eth0"].rxqsz: queue size 1000 is not a power of two`,
			`["eth0"].rxMode: unknown rx mode "fast"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := validAdd()
			if c.edit != nil {
				c.edit(req)
			}
			pod, err := ParseAdd(req, ifs)
			if len(c.wantErr) > 0 {
				if err == nil {
					t.Fatalf("accepted: %+v", pod)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\nlacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, pod)
		})
	}
}

func TestParseDel(t *testing.T) {
	cases := []struct {
		req     *proto.DelRequest
		want    Key
		wantErr string
	}{
		{&proto.DelRequest{Netns: "/proc/42/ns/net", InterfaceName: "eth0"}, Key{Netns: "/proc/42/ns/net", InterfaceName: "eth0"}, ""},
		{&proto.DelRequest{Netns: "/var/run/netns//cni-1/", InterfaceName: "eth0"}, Key{Netns: "/var/run/netns/cni-1", InterfaceName: "eth0"}, ""},
		{&proto.DelRequest{InterfaceName: "eth0"}, Key{}, "invalid DEL: netns: required"},
		{&proto.DelRequest{Netns: "/proc/42/ns/net", InterfaceName: "a:b"}, Key{}, `interface_name: invalid interface name "a:b"`},
	}
	for _, c := range cases {
		got, err := ParseDel(c.req)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseDel(%v) error = %v, want %q", c.req, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDel(%v) = %v, %v; want %v", c.req, got, err, c.want)
		}
	}
}
