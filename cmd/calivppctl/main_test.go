package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func buildCLI(t *testing.T) string { return testutil.GoBuild(t, ".", "calivppctl") }

// cli runs the binary against a local node; it returns stdout, stderr and
// the exit code.
func cli(t *testing.T, bin, socket string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, append(args[:1:1], append([]string{"--api-socket", socket}, args[1:]...)...)...)
	cmd.Dir = t.TempDir()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), vpptest.ExitCode(err)
}

func isPcap(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Errorf("%s is not a pcap file (%d bytes)", path, len(b))
	}
}

func TestLocalSubcommands(t *testing.T) {
	bin := buildCLI(t)
	inst := vpptest.Start(t, vpptest.Options{})
	sock := inst.APISocket
	out := t.TempDir()

	stdout, stderr, code := cli(t, bin, sock, "vppctl", "show", "version")
	if code != 0 || !strings.Contains(stdout, "vpp v25.10") {
		t.Errorf("vppctl show version: %d %q %q", code, stdout, stderr)
	}
	if _, stderr, code := cli(t, bin, sock, "vppctl", "frobnicate"); code != 1 || !strings.Contains(stderr, "unknown input") {
		t.Errorf("vppctl of an unknown command: %d %q", code, stderr)
	}

	trace := filepath.Join(out, "trace.txt")
	if _, stderr, code := cli(t, bin, sock, "trace", "--timeout", "200ms", "--interface", "af_packet", "--srcip", "198.18.0.1", "--protocol", "tcp", "--dstport", "80", "--output", trace); code != 0 {
		t.Fatalf("trace: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(trace); !strings.Contains(string(b), "No packets in trace buffer") {
		t.Errorf("trace output = %q", b)
	}

	for _, c := range []struct{ cmd, file string }{{"pcap", "capture.pcap"}, {"dispatch", "dispatch.pcap"}} {
		path := filepath.Join(out, c.file)
		if _, stderr, code := cli(t, bin, sock, c.cmd, "--timeout", "200ms", "--output", path); code != 0 {
			t.Fatalf("%s: %d %s", c.cmd, code, stderr)
		}
		isPcap(t, path)
	}
	// A capture someone else started is reported, not clobbered.
	if _, _, code := cli(t, bin, sock, "vppctl", "pcap", "trace", "rx", "max", "10", "file", "other.pcap"); code != 0 {
		t.Fatal("starting a capture by hand failed")
	}
	if _, stderr, code := cli(t, bin, sock, "pcap", "--timeout", "100ms", "--output", filepath.Join(out, "x.pcap")); code != 1 || !strings.Contains(stderr, "a capture is already running") {
		t.Errorf("second capture: %d %q", code, stderr)
	}

	for _, bad := range [][]string{
		{"trace", "--protocol", "sctp", "--timeout", "1ms"},
		{"trace", "--interface", "host-eth0", "--timeout", "1ms"},
		{"pcap", "--srcip", "nope", "--timeout", "1ms"},
	} {
		if _, stderr, code := cli(t, bin, sock, bad...); code != 1 || stderr == "" {
			t.Errorf("%v: exit %d %q, want a clear error", bad, code, stderr)
		}
	}
	if _, _, code := cli(t, bin, sock, "clear"); code != 0 {
		t.Error("clear failed")
	}
	if _, stderr, code := cli(t, bin, "/nonexistent/vpp.sock", "vppctl", "show", "version"); code != 1 || !strings.Contains(stderr, "VPP not reachable at /nonexistent/vpp.sock") {
		t.Errorf("unreachable VPP: %d %q", code, stderr)
	}
	if stdout, _, code := cli(t, bin, sock, "completion", "bash"); code != 0 || !strings.Contains(stdout, "complete -F _calivppctl calivppctl") {
		t.Error("completion script missing")
	}
}

func TestExportArchive(t *testing.T) {
	bin := buildCLI(t)
	inst := vpptest.Start(t, vpptest.Options{})
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"ready":"ready"}`)
	}))
	defer status.Close()
	logs := t.TempDir()
	if err := os.WriteFile(filepath.Join(logs, "calico-vpp-node-abcde_calico-vpp-dataplane_agent-0123.log"), []byte("agent log line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "export.tar.gz")
	if _, stderr, code := cli(t, bin, inst.APISocket, "export", "--status-url", status.URL, "--log-dir", logs, "--output", archive); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		entries[h.Name] = string(b)
	}
	for name, want := range map[string]string{
		"vpp/show-version.txt": "vpp v25.10", "vpp/show-ip-fib.txt": "ipv4-VRF:0", "vpp/show-interface.txt": "local0",
		"agent/status.json": `"ready"`, "logs/agent.log": "agent log line", "linux/ip-addr.txt": "lo",
		"logs/vpp.log.error": "no vpp log", "config/environment": "",
	} {
		got, ok := entries[name]
		if !ok || !strings.Contains(got, want) {
			t.Errorf("archive entry %s = %q (present %v), want it to contain %q", name, got, ok, want)
		}
	}
}

// The cluster path's pod lookup against a real API server (exec needs a
// kubelet, which the test control plane has not: TestClusterExec covers it
// against a fake one).
func TestClusterPodLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cp := cluster.StartControlPlane(t)
	cp.Apply(t, `apiVersion: v1
kind: Namespace
metadata:
  name: calico-vpp-dataplane
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
---
apiVersion: v1
kind: Pod
metadata:
  name: calico-vpp-node-x1
  namespace: calico-vpp-dataplane
  labels:
    k8s-app: calico-vpp-node
spec:
  nodeName: node-a
  containers:
  - name: agent
    image: calico-vpp/agent:latest
`)
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod, err := findPod(ctx, client, "calico-vpp-dataplane", "node-a")
	if err != nil || pod.Name != "calico-vpp-node-x1" {
		t.Errorf("node-a: %v %v", pod, err)
	}
	if _, err := findPod(ctx, client, "calico-vpp-dataplane", "node-b"); err == nil || !strings.Contains(err.Error(), `no calico-vpp-node pod on node "node-b"`) {
		t.Errorf("node-b: %v", err)
	}
	if _, err := findPod(ctx, client, "calico-vpp-dataplane", "node-z"); err == nil || !strings.Contains(err.Error(), `no such node "node-z"`) {
		t.Errorf("node-z: %v", err)
	}
}
