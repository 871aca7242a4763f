// Package manifests checks yaml/: every manifest decodes strictly, the
// generated files are up to date, and the manifests agree with the code
// (RBAC, ConfigMap keys, images, probes); then the API server accepts them
// (kubectl apply --dry-run=server).
package manifests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/test/cluster"
)

func root(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// documents splits a multi-document YAML file.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(doc)) != "" {
			out = append(out, []byte(doc))
		}
	}
	return out
}

func stripComments(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// objects decodes a file strictly (unknown fields are errors).
func objects(t *testing.T, path string) []any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []any
	for i, doc := range documents(b) {
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			t.Errorf("%s document %d: %v", path, i, err)
			continue
		}
		out = append(out, obj)
	}
	return out
}

func manifestFiles(t *testing.T) []string {
	t.Helper()
	r := root(t)
	base, _ := filepath.Glob(filepath.Join(r, "yaml", "base", "*.yaml"))
	gen, _ := filepath.Glob(filepath.Join(r, "yaml", "generated", "*.yaml"))
	var out []string
	for _, f := range append(base, gen...) {
		if filepath.Base(f) != "kustomization.yaml" {
			out = append(out, f)
		}
	}
	if len(gen) < 3 {
		t.Fatalf("generated manifests missing: %v", gen)
	}
	return out
}

func TestManifestsAgreeWithTheCode(t *testing.T) {
	r := root(t)
	makefile, err := os.ReadFile(filepath.Join(r, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range manifestFiles(t) {
		t.Run(strings.TrimPrefix(f, r+"/"), func(t *testing.T) {
			for _, obj := range objects(t, f) {
				switch o := obj.(type) {
				case *rbacv1.ClusterRole:
					if !sameRules(o.Rules, inputs.RBACRules()) {
						t.Errorf("ClusterRole %s rules %+v\ndiffer from inputs.RBACRules() %+v", o.Name, o.Rules, inputs.RBACRules())
					}
				case *rbacv1.Role:
					if !sameRules(o.Rules, inputs.NamespaceRBACRules()) || o.Namespace != "calico-vpp-dataplane" {
						t.Errorf("Role %s/%s rules %+v\ndiffer from inputs.NamespaceRBACRules() %+v", o.Namespace, o.Name, o.Rules, inputs.NamespaceRBACRules())
					}
				case *corev1.ConfigMap:
					checkConfigMap(t, o)
				case *appsv1.DaemonSet:
					checkDaemonSet(t, r, string(makefile), o)
				}
			}
		})
	}
}

func sameRules(a, b []rbacv1.PolicyRule) bool {
	norm := func(rules []rbacv1.PolicyRule) []string {
		var out []string
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, g+"/"+res+"/"+v)
					}
				}
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

func checkConfigMap(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	var want []string
	for _, v := range config.Variables() {
		if v.Name != config.EnvNodeName {
			want = append(want, v.Name)
		}
	}
	var got []string
	env := []string{"NODENAME=node-a"}
	for k, v := range cm.Data {
		got = append(got, k)
		env = append(env, k+"="+v)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("ConfigMap keys %v\nwant every variable %v", got, want)
	}
	if _, warnings, err := config.Load(env); err != nil || len(warnings) != 0 {
		t.Errorf("the ConfigMap does not load cleanly: %v %v", err, warnings)
	}
}

func checkDaemonSet(t *testing.T, root, makefile string, ds *appsv1.DaemonSet) {
	t.Helper()
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID || spec.PriorityClassName != "system-node-critical" {
		t.Errorf("pod spec: hostNetwork %v hostPID %v priority %q", spec.HostNetwork, spec.HostPID, spec.PriorityClassName)
	}
	if ds.Spec.UpdateStrategy.RollingUpdate == nil || ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Error("rolling update is not one node at a time")
	}
	cfg, _, err := config.Load([]string{"NODENAME=n"})
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet must not SIGKILL vpp-manager while it restores Linux.
	if grace := spec.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second < cfg.GracefulShutdownTimeout+15*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v leaves no room for the %s graceful stop plus the restore", grace, cfg.GracefulShutdownTimeout)
	}
	// Init containers (the own-cni overlay's installer) run our images and
	// binaries too, with flags the binary knows.
	for _, c := range spec.InitContainers {
		repo, _, _ := strings.Cut(c.Image, ":")
		if !strings.Contains(makefile, repo+":$(VERSION)") {
			t.Errorf("init container %s image %s is not one `make images` builds", c.Name, c.Image)
		}
		binary := filepath.Base(c.Command[0])
		if _, err := os.Stat(filepath.Join(root, "cmd", binary, "main.go")); err != nil {
			t.Errorf("init container %s runs %s, which cmd/ does not build", c.Name, binary)
		}
		if c.Name == "install-cni" && (len(c.Command) < 2 || c.Command[1] != "install") {
			t.Errorf("init container %s: %v, want `calico-vpp-cni install`", c.Name, c.Command)
		}
	}
	for _, c := range spec.Containers {
		repo, _, _ := strings.Cut(c.Image, ":")
		if !strings.Contains(makefile, repo+":$(VERSION)") {
			t.Errorf("container %s image %s is not one `make images` builds", c.Name, c.Image)
		}
		binary := filepath.Base(c.Command[0])
		if _, err := os.Stat(filepath.Join(root, "cmd", binary, "main.go")); err != nil {
			t.Errorf("container %s runs %s, which cmd/ does not build", c.Name, binary)
		}
		if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
			t.Errorf("container %s is not privileged", c.Name)
		}
		if len(c.Env) == 0 || c.Env[0].Name != "NODENAME" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
			t.Errorf("container %s lacks NODENAME from spec.nodeName", c.Name)
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef.Name != "calico-vpp-config" {
			t.Errorf("container %s does not read the calico-vpp-config ConfigMap", c.Name)
		}
		if c.Name != "agent" {
			continue
		}
		for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/liveness", c.ReadinessProbe: "/readiness", c.StartupProbe: "/liveness"} {
			if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.IntValue() != int(cfg.Initial.HealthCheckPort) {
				t.Errorf("agent probe for %s does not match the health endpoint :%d%s", path, cfg.Initial.HealthCheckPort, path)
			}
		}
	}
}

// The generated files must be what `make yaml` produces now.
func TestGeneratedManifestsAreUpToDate(t *testing.T) {
	tools := cluster.RequireTools(t, "kubectl")
	r := root(t)
	tmp := filepath.Join(t.TempDir(), "configmap.yaml")
	cmd := exec.Command("go", "run", "./hack/gen-configmap", tmp)
	cmd.Dir = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-configmap: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(tmp)
	got, _ := os.ReadFile(filepath.Join(r, "yaml", "base", "configmap.yaml"))
	if !bytes.Equal(got, want) {
		t.Error("yaml/base/configmap.yaml is out of date: run make yaml")
	}
	for overlay, file := range map[string]string{"default": "calico-vpp.yaml", "dpdk": "calico-vpp-dpdk.yaml", "af-xdp": "calico-vpp-af-xdp.yaml", "own-cni": "calico-vpp-own-cni.yaml"} {
		out, err := exec.Command(filepath.Join(tools, "kubectl"), "kustomize", filepath.Join(r, "yaml", "overlays", overlay)).Output()
		if err != nil {
			t.Fatalf("kustomize %s: %v", overlay, err)
		}
		got, _ := os.ReadFile(filepath.Join(r, "yaml", "generated", file))
		_, body, _ := strings.Cut(string(got), "\n") // the header line
		if body != string(out) {
			t.Errorf("yaml/generated/%s is out of date: run make yaml", file)
		}
	}
}

// The API server accepts every manifest (server-side dry run), the Calico
// Installation included (with the operator's CRDs from the Calico module).
func TestManifestsApplyToAnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cp := cluster.StartControlPlane(t)
	cp.InstallCalico(t)
	operatorCRDs := filepath.Join(cluster.CalicoModuleDir(t), "manifests", "operator-crds.yaml")
	if out, err := cp.Kubectl("apply", "--server-side", "-f", operatorCRDs); err != nil {
		t.Fatalf("operator CRDs: %v\n%s", err, out)
	}
	if out, err := cp.Kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/installations.operator.tigera.io"); err != nil {
		t.Fatalf("operator CRDs not established: %v\n%s", err, out)
	}
	// Namespaced objects need their namespace to exist even in a dry run.
	if out, err := cp.Kubectl("create", "namespace", "calico-vpp-dataplane"); err != nil {
		t.Fatalf("namespace: %v\n%s", err, out)
	}
	r := root(t)
	files, _ := filepath.Glob(filepath.Join(r, "yaml", "generated", "*.yaml"))
	files = append(files, filepath.Join(r, "yaml", "calico", "installation.yaml"))
	for _, f := range files {
		if out, err := cp.Kubectl("apply", "--dry-run=server", "-f", f); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}
