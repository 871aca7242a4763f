package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	cniv1 "github.com/containernetworking/cni/pkg/types/100"
	calicogrpc "github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc"
	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"
	calicotypes "github.com/projectcalico/calico/cni-plugin/pkg/types"
	api "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// fakeDataplane records calls, fails on demand and detects requests for
// the same pod that overlap.
type fakeDataplane struct {
	mu       sync.Mutex
	wired    map[Key]Pod
	calls    []string
	failAdd  error
	failDel  error
	inFlight map[Key]bool
	overlaps int
}

func newFakeDataplane() *fakeDataplane {
	return &fakeDataplane{wired: map[Key]Pod{}, inFlight: map[Key]bool{}}
}

func (f *fakeDataplane) enter(k Key, op string) (failAdd, failDel error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight[k] {
		f.overlaps++
	}
	f.inFlight[k] = true
	f.calls = append(f.calls, op+" "+k.String())
	return f.failAdd, f.failDel
}

func (f *fakeDataplane) leave(k Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inFlight, k)
}

func (f *fakeDataplane) AddPod(_ context.Context, pod Pod) error {
	failAdd, _ := f.enter(pod.Key, "add")
	defer f.leave(pod.Key)
	time.Sleep(time.Millisecond) // widen the window for overlapping requests
	if failAdd != nil {
		return failAdd
	}
	f.mu.Lock()
	f.wired[pod.Key] = pod
	f.mu.Unlock()
	return nil
}

func (f *fakeDataplane) DelPod(_ context.Context, pod Pod) error {
	_, failDel := f.enter(pod.Key, "del")
	defer f.leave(pod.Key)
	time.Sleep(time.Millisecond)
	if failDel != nil {
		return failDel
	}
	f.mu.Lock()
	delete(f.wired, pod.Key)
	f.mu.Unlock()
	return nil
}

func newTestServer(t *testing.T) (*Server, *fakeDataplane, *Store) {
	t.Helper()
	store, err := OpenStore(filepath.Join(t.TempDir(), "pods.json"))
	if err != nil {
		t.Fatal(err)
	}
	dp := newFakeDataplane()
	return NewServer(testInterfaces(t), store, dp, vpptest.Logger(t)), dp, store
}

// Calico's own CNI gRPC dataplane client (what the Calico CNI plugin runs
// with "dataplane_options": {"type": "grpc", "socket": ...}) adds and
// deletes a pod through our server.
func TestCalicoClientAgainstServer(t *testing.T) {
	srv, dp, store := newTestServer(t)
	socket := filepath.Join(t.TempDir(), "cni-server.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return srv.Serve(ctx, socket) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Error(err)
		}
	})

	conf := calicotypes.NetConf{MTU: 1440, DataplaneOptions: map[string]interface{}{"type": "grpc", "socket": "unix://" + socket}}
	client, err := calicogrpc.NewGrpcDataplane(conf, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	args := &skel.CmdArgs{ContainerID: "c0ffee", Netns: "/var/run/netns/cni-0001", IfName: "eth0"}
	result := &cniv1.Result{IPs: []*cniv1.IPConfig{
		{Address: net.IPNet{IP: net.ParseIP("198.18.100.2").To4(), Mask: net.CIDRMask(32, 32)}},
		{Address: net.IPNet{IP: net.ParseIP("2001:db8:100::2"), Mask: net.CIDRMask(128, 128)}},
	}}
	_, v4def, _ := net.ParseCIDR("0.0.0.0/0")
	_, v6def, _ := net.ParseCIDR("::/0")
	endpoint := &api.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "node--a-k8s-web--0-eth0", Namespace: "default"},
		Spec:       api.WorkloadEndpointSpec{Endpoint: "eth0", Node: "node-a", Orchestrator: "k8s", Pod: "web-0"},
	}
	// Retry until the server listens (Serve runs concurrently).
	var ifName, mac string
	deadline := time.Now().Add(10 * time.Second)
	for {
		ifName, mac, err = client.DoNetworking(context.Background(), nil, args, result, "calic0ffee12345", []*net.IPNet{v4def, v6def}, endpoint, map[string]string{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ADD through Calico's client: %v", err)
	}
	if ifName != "calic0ffee12345" {
		t.Errorf("host interface name = %q, want the one Calico asked for", ifName)
	}
	if _, err := net.ParseMAC(mac); err != nil {
		t.Errorf("container MAC %q does not parse: %v", mac, err)
	}
	key := Key{Netns: "/var/run/netns/cni-0001", InterfaceName: "eth0"}
	pod, ok := store.Get(key)
	if !ok || len(pod.Addresses) != 2 || len(pod.Routes) != 2 || pod.MTU != 1440 || pod.Workload.Pod != "web-0" || pod.Workload.Namespace != "default" {
		t.Errorf("recorded pod = %+v (%v)", pod, ok)
	}
	if _, wired := dp.wired[key]; !wired {
		t.Error("the dataplane was not asked to wire the pod")
	}

	if err := client.CleanUpNamespace(args); err != nil {
		t.Fatalf("DEL through Calico's client: %v", err)
	}
	if _, ok := store.Get(key); ok || len(dp.wired) != 0 {
		t.Errorf("after DEL: store has the pod %v, dataplane %v", ok, dp.wired)
	}
	if err := client.CleanUpNamespace(args); err != nil {
		t.Errorf("second DEL: %v, want success (DEL is idempotent)", err)
	}
}

func TestAddAndDelOutcomes(t *testing.T) {
	ctx := context.Background()
	key := Key{Netns: "/var/run/netns/cni-1234", InterfaceName: "eth0"}
	t.Run("invalid request: nothing recorded, dataplane untouched", func(t *testing.T) {
		srv, dp, store := newTestServer(t)
		req := validAdd()
		req.ContainerIps[0].Address = "not-an-ip"
		reply, _ := srv.Add(ctx, req)
		if reply.Successful || !strings.Contains(reply.ErrorMessage, `container_ips[0].address: "not-an-ip"`) {
			t.Errorf("reply = %+v", reply)
		}
		if len(store.List()) != 0 || len(dp.calls) != 0 {
			t.Errorf("store %v, calls %v", store.List(), dp.calls)
		}
	})
	t.Run("dataplane failure: nothing recorded, error names the pod", func(t *testing.T) {
		srv, dp, store := newTestServer(t)
		dp.failAdd = errors.New("VNET_API_ERROR_SYSCALL_ERROR_1 (-12)")
		reply, _ := srv.Add(ctx, validAdd())
		if reply.Successful || !strings.Contains(reply.ErrorMessage, "wire pod "+key.String()) || !strings.Contains(reply.ErrorMessage, "SYSCALL_ERROR_1") {
			t.Errorf("reply = %+v", reply)
		}
		if len(store.List()) != 0 {
			t.Errorf("store after a failed ADD: %v", store.List())
		}
	})
	t.Run("retried ADD is replayed, a changed one replaces", func(t *testing.T) {
		srv, dp, store := newTestServer(t)
		for range 2 {
			if reply, _ := srv.Add(ctx, validAdd()); !reply.Successful {
				t.Fatal(reply.ErrorMessage)
			}
		}
		changed := validAdd()
		changed.ContainerIps = changed.ContainerIps[:1]
		changed.ContainerRoutes = changed.ContainerRoutes[:1]
		if reply, _ := srv.Add(ctx, changed); !reply.Successful {
			t.Fatal(reply.ErrorMessage)
		}
		want := []string{"add " + key.String(), "add " + key.String(), "del " + key.String(), "add " + key.String()}
		if fmt.Sprint(dp.calls) != fmt.Sprint(want) {
			t.Errorf("dataplane calls = %v, want %v", dp.calls, want)
		}
		if got := store.List(); len(got) != 1 || len(got[0].Addresses) != 1 {
			t.Errorf("store = %+v", got)
		}
	})
	t.Run("failed DEL keeps the record for the retry", func(t *testing.T) {
		srv, dp, store := newTestServer(t)
		if reply, _ := srv.Add(ctx, validAdd()); !reply.Successful {
			t.Fatal(reply.ErrorMessage)
		}
		dp.failDel = errors.New("boom")
		del := &proto.DelRequest{Netns: key.Netns, InterfaceName: key.InterfaceName}
		if reply, _ := srv.Del(ctx, del); reply.Successful || !strings.Contains(reply.ErrorMessage, "unwire pod "+key.String()) {
			t.Errorf("reply = %+v", reply)
		}
		if _, ok := store.Get(key); !ok {
			t.Error("record dropped after a failed DEL")
		}
		dp.failDel = nil
		if reply, _ := srv.Del(ctx, del); !reply.Successful {
			t.Errorf("retried DEL: %+v", reply)
		}
		if _, ok := store.Get(key); ok {
			t.Error("record kept after a successful DEL")
		}
	})
	t.Run("an address another pod has: rejected, nothing recorded", func(t *testing.T) {
		srv, dp, store := newTestServer(t)
		if reply, _ := srv.Add(ctx, validAdd()); !reply.Successful {
			t.Fatal(reply.ErrorMessage)
		}
		dup := validAdd()
		dup.Netns = "/var/run/netns/cni-5678"
		reply, _ := srv.Add(ctx, dup)
		if reply.Successful || !strings.Contains(reply.ErrorMessage, "198.18.100.2 is already the address of pod default/web-0") {
			t.Errorf("reply = %+v", reply)
		}
		if len(store.List()) != 1 || len(dp.calls) != 1 {
			t.Errorf("store %v, calls %v", store.List(), dp.calls)
		}
	})
	t.Run("malformed DEL", func(t *testing.T) {
		srv, _, _ := newTestServer(t)
		if reply, _ := srv.Del(ctx, &proto.DelRequest{InterfaceName: "eth0"}); reply.Successful || !strings.Contains(reply.ErrorMessage, "netns: required") {
			t.Errorf("reply = %+v", reply)
		}
	})
}

// Many pods at once, and DELs racing ADDs of the same pods: requests for
// one pod never overlap in the dataplane, and every pod ends consistent.
func TestConcurrentRequests(t *testing.T) {
	srv, dp, store := newTestServer(t)
	ctx := context.Background()
	var g errgroup.Group
	const pods = 50
	for i := range pods {
		req := validAdd()
		req.Netns = fmt.Sprintf("/var/run/netns/cni-%d", i)
		req.ContainerIps = []*proto.IPConfig{{Address: fmt.Sprintf("198.18.100.%d/32", i+1)}}
		req.ContainerRoutes = []string{"0.0.0.0/0"}
		g.Go(func() error {
			if reply, _ := srv.Add(ctx, req); !reply.Successful {
				return errors.New(reply.ErrorMessage)
			}
			return nil
		})
		if i%2 == 0 { // a DEL racing the ADD
			g.Go(func() error {
				if reply, _ := srv.Del(ctx, &proto.DelRequest{Netns: req.Netns, InterfaceName: "eth0"}); !reply.Successful {
					return errors.New(reply.ErrorMessage)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if dp.overlaps != 0 {
		t.Errorf("%d overlapping dataplane calls for the same pod", dp.overlaps)
	}
	// Whatever order each race ended in, the store and the dataplane agree.
	for _, p := range store.List() {
		if _, ok := dp.wired[p.Key]; !ok {
			t.Errorf("%s recorded but not wired", p.Key)
		}
	}
	if len(dp.wired) != len(store.List()) {
		t.Errorf("wired %d pods, recorded %d", len(dp.wired), len(store.List()))
	}
	if n := len(store.List()); n < pods/2 || n > pods {
		t.Errorf("%d pods recorded, want between %d and %d", n, pods/2, pods)
	}
	if len(srv.locks.held) != 0 {
		t.Errorf("%d per-pod locks left", len(srv.locks.held))
	}
}

func TestContainerMAC(t *testing.T) {
	a := ContainerMAC(Key{Netns: "/var/run/netns/a", InterfaceName: "eth0"})
	b := ContainerMAC(Key{Netns: "/var/run/netns/b", InterfaceName: "eth0"})
	if a.String() == b.String() {
		t.Error("two pods share a MAC")
	}
	if a.String() != ContainerMAC(Key{Netns: "/var/run/netns/a", InterfaceName: "eth0"}).String() {
		t.Error("MAC not stable")
	}
	if a[0]&0x01 != 0 || a[0]&0x02 == 0 {
		t.Errorf("%s is not a locally administered unicast MAC", a)
	}
}
