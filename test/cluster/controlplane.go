// Package cluster runs a real Kubernetes control plane for the end-to-end
// tests: etcd and kube-apiserver (built from their modules by
// hack/build-tools.sh) on 127.0.0.1, with token authentication, RBAC and a
// self-signed serving certificate. Everything lives in a temporary
// directory and is stopped and removed when the test ends.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/test/testutil"
)

// ServiceCIDR is the cluster's service range (inside 198.18.0.0/15).
const ServiceCIDR = "198.19.240.0/20"

// ToolsDir is where hack/build-tools.sh puts the binaries.
func ToolsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CALICOVPP_TOOLS_BIN"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module")
	}
	return filepath.Join(filepath.Dir(file), "..", "tools", "bin")
}

// RequireTools skips a test when the tools are not built (make test builds
// them; `bash hack/build-tools.sh` does it by hand).
func RequireTools(t testing.TB, names ...string) string {
	t.Helper()
	dir := ToolsDir(t)
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Skipf("%s not built in %s: run hack/build-tools.sh (make test does)", n, dir)
		}
	}
	return dir
}

// ControlPlane is a running etcd + kube-apiserver.
type ControlPlane struct {
	Dir        string
	Server     string // https://127.0.0.1:port
	Token      string // admin (system:masters) bearer token
	Kubeconfig string
	tools      string
	logs       map[string]io.Writer // every process's full output, by name
	procs      []*proc
}

type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan error
	group  errgroup.Group
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *ControlPlane) start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(filepath.Join(c.tools, name), args...), out: &testutil.SyncBuffer{}, exited: make(chan error, 1)}
	log := io.MultiWriter(p.out, c.logs[name])
	p.cmd.Stdout, p.cmd.Stderr = log, log
	testutil.Detach(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p.group.Go(func() error { p.exited <- p.cmd.Wait(); return nil })
	c.procs = append(c.procs, p)
	return p
}

// StartControlPlane starts etcd and kube-apiserver and waits until the
// API answers.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	tools := RequireTools(t, "etcd", "kube-apiserver", "kubectl")
	dir, err := os.MkdirTemp("", "cvcp")
	if err != nil {
		t.Fatal(err)
	}
	c := &ControlPlane{Dir: dir, tools: tools, logs: map[string]io.Writer{}}
	// Opened before the processes' cleanup is registered: closed after it.
	logDir := testutil.LogDir(t, "control-plane")
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		c.logs[name] = testutil.LogFile(t, logDir, name+".log")
	}
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("%s output (last 3000 bytes):\n%s", p.name, tail(p.out.String(), 3000))
			}
		}
		_ = os.RemoveAll(dir)
	})

	clientPort, peerPort := freePort(t), freePort(t)
	c.start(t, "etcd", "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peerPort),
		"--unsafe-no-fsync", "--log-level", "warn")

	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	c.Token = hex.EncodeToString(tok)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(c.Token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeServiceAccountKey(dir); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", port)
	c.start(t, "kube-apiserver",
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", ServiceCIDR,
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--v=1")

	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.Server, "admin", c.Token); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := c.Kubectl("get", "--raw", "/readyz")
		if err == nil && strings.TrimSpace(out) == "ok" {
			c.startControllerManager(t)
			return c
		}
		for _, p := range c.procs {
			select {
			case perr := <-p.exited:
				p.exited <- perr
				t.Fatalf("%s exited (%v):\n%s", p.name, perr, tail(p.out.String(), 3000))
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready within 90s: %v %s", err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// startControllerManager runs the controllers the tests rely on: service
// accounts and their tokens, EndpointSlices, namespace cleanup.
func (c *ControlPlane) startControllerManager(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.tools, "kube-controller-manager")); err != nil {
		t.Skipf("kube-controller-manager not built: run hack/build-tools.sh")
	}
	c.start(t, "kube-controller-manager",
		"--kubeconfig", c.Kubeconfig,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(freePort(t)),
		"--controllers", "serviceaccount-controller,serviceaccount-token-controller,endpointslice-controller,endpointslice-mirroring-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller",
		"--service-account-private-key-file", filepath.Join(c.Dir, "sa.key"),
		"--root-ca-file", filepath.Join(c.Dir, "certs", "apiserver.crt"),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--v=1")
	// Ready once namespaces get their default service account.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err := c.Kubectl("get", "serviceaccount", "default", "-n", "default"); err == nil && strings.Contains(out, "default") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-controller-manager did not create the default service account within 60s")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Kubectl runs kubectl against the control plane.
func (c *ControlPlane) Kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.tools, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *ControlPlane) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		_ = p.group.Wait()
	}
}

func writeServiceAccountKey(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pub, 0o644)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// Apply applies manifests (kubectl apply -f -).
func (c *ControlPlane) Apply(t testing.TB, manifests string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.tools, "kubectl"), "--kubeconfig", c.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifests)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s\n---\n%s", err, out, manifests)
	}
}

// CalicoModuleDir is where the Go module cache holds the Calico module
// (its CRDs are read from there, not copied).
func CalicoModuleDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/projectcalico/calico")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("locate the Calico module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// InstallCalico installs Calico's CRDs and the ClusterInformation that
// marks the datastore ready, as the Calico operator would.
func (c *ControlPlane) InstallCalico(t testing.TB) {
	t.Helper()
	crds := filepath.Join(CalicoModuleDir(t), "libcalico-go", "config", "crd")
	if out, err := c.Kubectl("apply", "--server-side", "-f", crds); err != nil {
		t.Fatalf("install Calico CRDs: %v\n%s", err, out)
	}
	if out, err := c.Kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/ippools.crd.projectcalico.org", "crd/clusterinformations.crd.projectcalico.org"); err != nil {
		t.Fatalf("CRDs not established: %v\n%s", err, out)
	}
	c.Apply(t, `apiVersion: crd.projectcalico.org/v1
kind: ClusterInformation
metadata:
  name: default
spec:
  datastoreReady: true
`)
}

// ServiceAccountKubeconfig creates a ServiceAccount bound to a ClusterRole
// with rules (YAML list) and returns a kubeconfig using its token: what
// runs with it has exactly those permissions.
func (c *ControlPlane) ServiceAccountKubeconfig(t testing.TB, name, rulesYAML string) string {
	t.Helper()
	c.Apply(t, fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %[1]s
rules:
%[2]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: %[1]s
subjects:
- kind: ServiceAccount
  name: %[1]s
  namespace: default
`, name, rulesYAML))
	token, err := c.Kubectl("create", "token", name, "-n", "default", "--duration", "1h")
	if err != nil {
		t.Fatalf("token for %s: %v\n%s", name, err, token)
	}
	path := filepath.Join(c.Dir, name+".kubeconfig")
	if err := writeKubeconfig(path, c.Server, name, strings.TrimSpace(token)); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKubeconfig writes a kubeconfig for server with a bearer token (the
// serving certificate is self-signed, so it is not verified).
func writeKubeconfig(path, server, user, token string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %[1]s
    insecure-skip-tls-verify: true
users:
- name: %[2]s
  user:
    token: %[3]s
contexts:
- name: local
  context:
    cluster: local
    user: %[2]s
current-context: local
`, server, user, token)
	return os.WriteFile(path, []byte(kc), 0o600)
}
