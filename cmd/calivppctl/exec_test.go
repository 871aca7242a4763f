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

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
