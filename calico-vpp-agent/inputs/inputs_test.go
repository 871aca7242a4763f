package inputs_test

// The inputs against a real kube-apiserver with Calico's CRDs, using a
// ServiceAccount that has exactly RBACRules(): this proves both that the
// inputs work and that the ClusterRole covers every call they make.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/projectcalico/calico/libcalico-go/lib/apiconfig"
	"github.com/projectcalico/calico/libcalico-go/lib/backend"
	"github.com/projectcalico/calico/libcalico-go/lib/backend/model"
	calinet "github.com/projectcalico/calico/libcalico-go/lib/net"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

const objects = `apiVersion: v1
kind: Node
metadata:
  name: node-a
  annotations:
    projectcalico.org/IPv4Address: 198.18.0.2/24
    projectcalico.org/ASNumber: "64512"
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  clusterIP: 198.19.240.10
  ports:
  - port: 80
    protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: ["198.18.64.5"]
ports:
- port: 8080
  protocol: TCP
---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 198.18.64.0/18
  ipipMode: Always
  vxlanMode: Never
  natOutgoing: true
  blockSize: 26
---
apiVersion: crd.projectcalico.org/v1
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  nodeToNodeMeshEnabled: true
---
apiVersion: crd.projectcalico.org/v1
kind: BGPPeer
metadata:
  name: rr
spec:
  peerIP: 198.18.0.1
  asNumber: 64513
`

func TestInputsAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cp := cluster.StartControlPlane(t)
	cp.InstallCalico(t)
	cp.Apply(t, objects)
	// The block affinity Calico IPAM would write, written the same way (the
	// datastore client labels it by host).
	admin, err := backend.NewClient(apiconfig.CalicoAPIConfig{Spec: apiconfig.CalicoAPIConfigSpec{
		DatastoreType: apiconfig.Kubernetes, KubeConfig: apiconfig.KubeConfig{Kubeconfig: cp.Kubeconfig},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := calinet.ParseCIDR("198.18.64.0/26")
	if _, err := admin.Create(context.Background(), &model.KVPair{
		Key:   model.BlockAffinityKey{CIDR: *block, Host: "node-a", AffinityType: "host"},
		Value: &model.BlockAffinity{State: model.StateConfirmed},
	}); err != nil {
		t.Fatalf("create block affinity: %v", err)
	}
	rules, err := yaml.Marshal(inputs.RBACRules())
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := cp.ServiceAccountKubeconfig(t, "calico-vpp-node", string(rules))

	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	calicoClient, err := backend.NewClient(apiconfig.CalicoAPIConfig{Spec: apiconfig.CalicoAPIConfigSpec{
		DatastoreType: apiconfig.Kubernetes, KubeConfig: apiconfig.KubeConfig{Kubeconfig: kubeconfig},
	}})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	synced := map[string]bool{}
	mark := func(name string) { mu.Lock(); synced[name] = true; mu.Unlock() }
	log := vpptest.Logger(t)
	kin := inputs.NewKubernetes(k8s, 0, mark, log)
	cin := inputs.NewCalico(calicoClient, "node-a", false, func() { mark(inputs.InputCalico) }, log)
	changes := cin.Watch()

	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return kin.Run(ctx) })
	g.Go(func() error { return cin.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("inputs: %v", err)
		}
	})

	waitFor(t, "every input synced", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return synced[inputs.InputServices] && synced[inputs.InputEndpointSlices] && synced[inputs.InputNodes] && synced[inputs.InputCalico]
	})
	if _, ok, _ := kin.Services().GetStore().GetByKey("default/web"); !ok {
		t.Error("service default/web not in the informer")
	}
	if _, ok, _ := kin.EndpointSlices().GetStore().GetByKey("default/web-1"); !ok {
		t.Error("endpointslice default/web-1 not in the informer")
	}
	st := cin.State()
	pool, ok := st.IPPools[netip.MustParsePrefix("198.18.64.0/18")]
	if !ok || pool.IPIPMode != inputs.EncapAlways || pool.VXLANMode != inputs.EncapNever || !pool.Masquerade {
		t.Errorf("IPPools = %+v", st.IPPools)
	}
	if cfg, ok := st.BGPConfigurations["default"]; !ok || cfg.Spec.ASNumber == nil || uint32(*cfg.Spec.ASNumber) != 64512 {
		t.Errorf("BGPConfigurations = %+v", st.BGPConfigurations)
	}
	if peer, ok := st.BGPPeers["rr"]; !ok || peer.Spec.PeerIP != "198.18.0.1" {
		t.Errorf("BGPPeers = %+v", st.BGPPeers)
	}
	if n, ok := st.Nodes["node-a"]; !ok || n.Spec.BGP == nil || !strings.HasPrefix(n.Spec.BGP.IPv4Address, "198.18.0.2") {
		t.Errorf("Nodes = %+v", st.Nodes)
	}
	if b, ok := st.BlockAffinities[netip.MustParsePrefix("198.18.64.0/26")]; !ok || b.Host != "node-a" {
		t.Errorf("BlockAffinities = %+v", st.BlockAffinities)
	}

	// Live changes arrive: a new peer appears, the old one goes.
	drain(changes)
	cp.Apply(t, "apiVersion: crd.projectcalico.org/v1\nkind: BGPPeer\nmetadata:\n  name: tor\nspec:\n  peerIP: 198.18.0.254\n  asNumber: 65000\n")
	if out, err := cp.Kubectl("delete", "bgppeers.crd.projectcalico.org", "rr"); err != nil {
		t.Fatalf("delete peer: %v\n%s", err, out)
	}
	waitFor(t, "peer change seen", func() bool {
		st := cin.State()
		_, tor := st.BGPPeers["tor"]
		_, rr := st.BGPPeers["rr"]
		return tor && !rr
	})
	select {
	case <-changes:
	default:
		t.Error("no change notification")
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
