package cluster

import (
	"strings"
	"testing"
)

func TestControlPlaneServesTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	c := StartControlPlane(t)
	out, err := c.Kubectl("create", "namespace", "calico-vpp-dataplane")
	if err != nil {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	out, err = c.Kubectl("get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/calico-vpp-dataplane") {
		t.Fatalf("namespaces: %v\n%s", err, out)
	}
	out, err = c.Kubectl("version", "-o", "json")
	if err != nil || !strings.Contains(out, `"gitVersion": "v1.33.5"`) {
		t.Errorf("version: %v\n%s", err, out)
	}
	// The controller manager runs: a new namespace gets its service account.
	if out, err := c.Kubectl("wait", "--for=jsonpath={.metadata.name}=default", "--timeout=60s", "serviceaccount/default", "-n", "calico-vpp-dataplane"); err != nil {
		t.Errorf("no default service account in a new namespace: %v\n%s", err, out)
	}
	// The default service CIDR is ours.
	out, err = c.Kubectl("get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil || !strings.HasPrefix(out, "198.19.240.") {
		t.Errorf("kubernetes service IP = %q (%v), want one in %s", out, err, ServiceCIDR)
	}
}
