package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// fakeAPI is the part of a Kubernetes API server and kubelet the cluster
// path uses: node and pod lookup, pod logs, and exec over the WebSocket
// remote-command protocol (v5.channel.k8s.io), where the "container" is
// this machine: calivppctl runs for real against a local VPP.
type fakeAPI struct {
	t       *testing.T
	bin     string // calivppctl, as the agent image has it
	socket  string // the pod's VPP API socket
	execs   []string
	logBody string
}

const fakePod = "calico-vpp-node-x1"

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	ns := "/api/v1/namespaces/calico-vpp-dataplane/pods"
	switch {
	case r.URL.Path == "/api/v1/nodes/node-a":
		writeJSON(&corev1.Node{TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "node-a"}})
	case strings.HasPrefix(r.URL.Path, "/api/v1/nodes/"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Reason: metav1.StatusReasonNotFound, Code: 404, Message: fmt.Sprintf("nodes %q not found", strings.TrimPrefix(r.URL.Path, "/api/v1/nodes/"))})
	case r.URL.Path == ns:
		if r.URL.Query().Get("fieldSelector") != "spec.nodeName=node-a" || r.URL.Query().Get("labelSelector") != "k8s-app=calico-vpp-node" {
			f.t.Errorf("pod list query %q", r.URL.RawQuery)
		}
		pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fakePod, Namespace: "calico-vpp-dataplane"}, Spec: corev1.PodSpec{NodeName: "node-a"}}
		writeJSON(&corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{pod}})
	case r.URL.Path == ns+"/"+fakePod+"/log":
		if r.URL.Query().Get("container") != "agent" {
			f.t.Errorf("log query %q", r.URL.RawQuery)
		}
		_, _ = w.Write([]byte(f.logBody))
	case r.URL.Path == ns+"/"+fakePod+"/exec":
		f.exec(w, r)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// exec runs the command like a kubelet would, streaming its output on the
// remote-command channels (1 stdout, 2 stderr, 3 the final status).
func (f *fakeAPI) exec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	argv := q["command"]
	f.execs = append(f.execs, q.Get("container")+": "+strings.Join(argv, " "))
	up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("websocket upgrade: %v", err)
		return
	}
	defer conn.Close()
	if len(argv) == 0 || argv[0] != "calivppctl" {
		f.t.Errorf("exec of %v: the cluster path runs calivppctl in the pod", argv)
		return
	}
	cmd := exec.Command(f.bin, argv[1:]...)
	cmd.Env = append(os.Environ(), "CALICOVPP_VPP_API_SOCKET="+f.socket)
	cmd.Dir = f.t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	send := func(channel byte, data []byte) {
		if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channel}, data...)); err != nil {
			f.t.Errorf("write channel %d: %v", channel, err)
		}
	}
	if stdout.Len() > 0 {
		send(1, stdout.Bytes())
	}
	if stderr.Len() > 0 {
		send(2, stderr.Bytes())
	}
	status := metav1.Status{Status: metav1.StatusSuccess}
	if runErr != nil {
		status = metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode", Message: runErr.Error(),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: fmt.Sprint(vpptest.ExitCode(runErr))}}}}
	}
	b, _ := json.Marshal(status)
	send(3, b)
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

// The cluster path end to end against a fake API server and kubelet:
// --node finds the node's pod, runs calivppctl in its agent container
// through exec (for real, against a local VPP) and streams the answer
// back; failures come back as the operator's error; logs come from the
// pods/log API.
func TestClusterExec(t *testing.T) {
	bin := buildCLI(t)
	inst := vpptest.Start(t, vpptest.Options{})
	api := &fakeAPI{t: t, bin: bin, socket: inst.APISocket, logBody: "agent started\nagent running\n"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append(args[:1:1], append([]string{"--node", "node-a", "--kubeconfig", kubeconfig}, args[1:]...)...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), vpptest.ExitCode(err)
	}

	if stdout, stderr, code := run("vppctl", "show", "version"); code != 0 || !strings.Contains(stdout, "vpp v25.10") {
		t.Errorf("vppctl through exec: %d %q %q", code, stdout, stderr)
	}
	if _, stderr, code := run("vppctl", "frobnicate"); code != 1 || !strings.Contains(stderr, "on node-a") || !strings.Contains(stderr, "unknown input") {
		t.Errorf("a failing command through exec: %d %q", code, stderr)
	}
	if stdout, stderr, code := run("log", "--component", "agent"); code != 0 || stdout != api.logBody {
		t.Errorf("log: %d %q %q", code, stdout, stderr)
	}
	cmd := exec.Command(bin, "vppctl", "--node", "node-z", "--kubeconfig", kubeconfig, "show", "version")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), `no such node "node-z"`) {
		t.Errorf("unknown node: %v %q", err, out)
	}
	// Each command ran once (a failure is not retried over SPDY).
	if len(api.execs) != 2 || api.execs[0] != "agent: calivppctl vppctl show version" || api.execs[1] != "agent: calivppctl vppctl frobnicate" {
		t.Errorf("exec requests %q", api.execs)
	}
}

// The local interactive and streaming paths: the vppctl prompt, logs
// (also followed), a shell in VPP's namespaces, and --help everywhere.
func TestLocalInteractive(t *testing.T) {
	bin := buildCLI(t)
	inst := vpptest.Start(t, vpptest.Options{})
	runDir, logDir := t.TempDir(), t.TempDir()
	status, _ := json.Marshal(vppstatus.Status{State: vppstatus.StateRunning, VPPPID: inst.PID(), APISocket: inst.APISocket})
	if err := os.WriteFile(filepath.Join(runDir, vppstatus.StatusFile), status, 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(logDir, "calico-vpp-node-abcde_calico-vpp-dataplane_agent-0123.log")
	if err := os.WriteFile(logFile, []byte("agent log line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, string, int) {
		cmd := exec.Command(bin, append(args[:1:1], append([]string{"--api-socket", inst.APISocket, "--run-dir", runDir, "--log-dir", logDir}, args[1:]...)...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), vpptest.ExitCode(err)
	}
	if stdout, stderr, code := run("show version\nshow interface\nquit\nshow version\n", "vppctl"); code != 0 ||
		!strings.Contains(stdout, "vpp#") || !strings.Contains(stdout, "vpp v25.10") || !strings.Contains(stdout, "local0") || strings.Count(stdout, "vpp v25.10") != 1 {
		t.Errorf("interactive vppctl: %d %q %q", code, stdout, stderr)
	}
	if stdout, stderr, code := run("", "log", "--component", "agent"); code != 0 || stdout != "agent log line\n" {
		t.Errorf("log: %d %q %q", code, stdout, stderr)
	}
	if _, stderr, code := run("", "log", "--component", "vpp"); code != 1 || !strings.Contains(stderr, "no vpp log on this node") {
		t.Errorf("missing log: %d %q", code, stderr)
	}
	// --follow keeps printing what the container appends.
	follow := exec.Command(bin, "log", "--log-dir", logDir, "--component", "agent", "--follow")
	followed := &testutil.SyncBuffer{}
	follow.Stdout = followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill(); _ = follow.Wait() }()
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("appended later\n")
	f.Close()
	for i := 0; i < 50 && !strings.Contains(followed.String(), "appended later"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if got := followed.String(); got != "agent log line\nappended later\n" {
		t.Errorf("followed log = %q", got)
	}

	// The shell enters VPP's namespaces (VPP runs in its test netns).
	wantNS := strings.TrimSpace(inst.Netns.Run(t, "readlink", "/proc/self/ns/net"))
	if stdout, stderr, code := run("readlink /proc/self/ns/net\nexit\n", "sh", "--component", "vpp"); code != 0 || strings.TrimSpace(stdout) != wantNS {
		t.Errorf("sh: %d %q %q, want to run in %s", code, stdout, stderr, wantNS)
	}
	if _, stderr, code := run("", "sh", "--component", "agent"); code != 1 || !strings.Contains(stderr, "use --node for the agent") {
		t.Errorf("sh agent locally: %d %q", code, stderr)
	}

	for _, c := range commands() {
		stdout, stderr, code := run("", c.name, "--help")
		if code != 0 || !strings.Contains(stdout+stderr, "Usage: calivppctl "+c.name) {
			t.Errorf("%s --help: %d %q %q", c.name, code, stdout, stderr)
		}
	}
}
