package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/services"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/node"
)

// translations renders the node's VPP cnat translations (services.String).
func translations(t *testing.T, n *node.Node) []string {
	t.Helper()
	ts, err := n.VPP(t).Translations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range ts {
		// Backends in a stable order: cnat keeps the order it was given.
		slices.SortFunc(tr.Backends, func(a, b vpplink.Backend) int { return strings.Compare(a.Dst.String(), b.Dst.String()) })
		out = append(out, services.String(tr))
	}
	slices.Sort(out)
	return out
}

// translationIDs maps each translation's key to VPP's ID.
func translationIDs(t *testing.T, n *node.Node) map[string]uint32 {
	t.Helper()
	ts, err := n.VPP(t).Translations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, tr := range ts {
		out[tr.Key()] = tr.ID
	}
	return out
}

// A Service over pods on both nodes becomes the same cnat translation on
// every node (its cluster IP to the pods), plus the node port on each
// node's own address; translations follow the EndpointSlices as pods go,
// survive an agent restart untouched, and go with the Service.
func TestServices(t *testing.T) {
	bin, cp := node.Cluster(t, "../..", node.TwoNodeObjects)
	nodes, _ := startNodes(t, bin, cp, "USE_POD_CIDR=true")
	pods := map[string]*node.Pod{}
	podNode := map[string]string{"web-1": "node-a", "web-2": "node-b"}
	for name, n := range podNode {
		pods[name] = nodes[n].RunPod(t, name, node.OurPlugin)
		if out, err := cp.Kubectl("label", "pod", name, "tier=web"); err != nil {
			t.Fatalf("label %s: %v\n%s", name, err, out)
		}
	}
	cp.Apply(t, `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {tier: web}
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
`)
	clusterIP := strings.TrimSpace(kubectlGet(t, cp, "{.spec.clusterIP}", "service", "web"))
	// The node port's endpoints on other nodes see the node as source.
	want := func(n string, backends ...string) []string {
		addr, _, _ := strings.Cut(node.NodeAddrs[n], "/")
		slices.SortFunc(backends, func(a, b string) int { return strings.Compare(pods[a].IPs[0], pods[b].IPs[0]) })
		var cluster, nodePort []string
		for _, b := range backends {
			cluster = append(cluster, pods[b].IPs[0]+":8080")
			if podNode[b] == n {
				nodePort = append(nodePort, pods[b].IPs[0]+":8080")
			} else {
				nodePort = append(nodePort, pods[b].IPs[0]+":8080 from "+addr)
			}
		}
		out := []string{
			// (VPP's dumps do not say it is a real address.)
			fmt.Sprintf("tcp %s:30080 -> %s", addr, strings.Join(nodePort, ",")),
			fmt.Sprintf("tcp %s:80 -> %s", clusterIP, strings.Join(cluster, ",")),
		}
		slices.Sort(out)
		return out
	}
	awaitTranslations := func(t *testing.T, backends ...string) {
		t.Helper()
		for name, n := range nodes {
			w := want(name, backends...)
			if len(backends) == 0 {
				w = nil
			}
			eventually(t, 30*time.Second, name+"'s translations", func() string {
				if got := translations(t, n); !slices.Equal(got, w) {
					return fmt.Sprintf("got %q, want %q", got, w)
				}
				return ""
			})
		}
	}
	awaitTranslations(t, "web-1", "web-2")

	t.Run("an agent restart leaves the translations alone", func(t *testing.T) {
		a := nodes["node-a"]
		before := translationIDs(t, a)
		_ = a.Stop(t, syscall.SIGKILL)
		a.Restart(t)
		a.AwaitReady(t)
		if after := translationIDs(t, a); !maps.Equal(after, before) {
			t.Errorf("translation IDs %v after the restart, want %v", after, before)
		}
		awaitTranslations(t, "web-1", "web-2")
	})

	t.Run("a pod gone: its backend goes", func(t *testing.T) {
		pods["web-2"].Delete(t)
		awaitTranslations(t, "web-1")
	})

	t.Run("the service gone: its translations go", func(t *testing.T) {
		if out, err := cp.Kubectl("delete", "service", "web"); err != nil {
			t.Fatalf("delete service: %v\n%s", err, out)
		}
		awaitTranslations(t)
	})
}
