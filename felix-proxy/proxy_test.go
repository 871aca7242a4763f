package felixproxy_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	extdataplane "github.com/projectcalico/calico/felix/dataplane/external"
	"github.com/projectcalico/calico/felix/proto"
	pb "google.golang.org/protobuf/proto"

	felixproxy "github.com/calico-vpp/calico-vpp/felix-proxy"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func buildProxy(t *testing.T) string {
	return testutil.GoBuild(t, "../cmd/felix-proxy", "felix-api-proxy")
}

// readToDataplane reads one framed message the way the agent does.
func readToDataplane(t *testing.T, r io.Reader) *proto.ToDataplane {
	t.Helper()
	var length [8]byte
	if _, err := io.ReadFull(r, length[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	data := make([]byte, binary.LittleEndian.Uint64(length[:]))
	if _, err := io.ReadFull(r, data); err != nil {
		t.Fatalf("read message: %v", err)
	}
	var msg proto.ToDataplane
	if err := pb.Unmarshal(data, &msg); err != nil {
		t.Fatal(err)
	}
	return &msg
}

func writeFromDataplane(t *testing.T, w io.Writer, msg *proto.FromDataplane) {
	t.Helper()
	data, err := pb.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var length [8]byte
	binary.LittleEndian.PutUint64(length[:], uint64(len(data)))
	if _, err := w.Write(append(length[:], data...)); err != nil {
		t.Fatal(err)
	}
}

// Felix's own driver code (the calico module's external dataplane, what
// calico-node runs) starts felix-proxy, before the agent listens; messages
// go both ways through the agent's socket; when the agent goes away,
// felix-proxy exits so that Felix restarts and re-sends its state.
func TestFelixToAgentAndBack(t *testing.T) {
	bin := buildProxy(t)
	socket := filepath.Join(t.TempDir(), "felix-dataplane.sock")
	t.Setenv("CALICOVPP_FELIX_DATAPLANE_SOCKET", socket)
	felix, cmd := extdataplane.StartExtDataplaneDriver(bin)
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }() // ends with the process, which the test ends
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// Felix talks before the agent is up: the message waits in the pipe.
	if err := felix.SendMessage(&proto.ConfigUpdate{Config: map[string]string{"FelixHostname": "node-a"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_ = ln.(*net.UnixListener).SetDeadline(time.Now().Add(30 * time.Second))
	agent, err := ln.Accept()
	if err != nil {
		t.Fatalf("felix-proxy did not connect: %v", err)
	}
	if err := felix.SendMessage(&proto.InSync{}); err != nil {
		t.Fatal(err)
	}
	_ = agent.SetDeadline(time.Now().Add(30 * time.Second))
	first, second := readToDataplane(t, agent), readToDataplane(t, agent)
	if first.GetConfigUpdate().GetConfig()["FelixHostname"] != "node-a" || first.SequenceNumber != 0 ||
		second.GetInSync() == nil || second.SequenceNumber != 1 {
		t.Errorf("agent received %v then %v", first, second)
	}

	writeFromDataplane(t, agent, &proto.FromDataplane{Payload: &proto.FromDataplane_ProcessStatusUpdate{
		ProcessStatusUpdate: &proto.ProcessStatusUpdate{IsoTimestamp: "2026-11-22T00:00:00Z", Uptime: 42}}})
	got, err := felix.RecvMessage()
	if status, ok := got.(*proto.ProcessStatusUpdate); err != nil || !ok || status.Uptime != 42 {
		t.Errorf("Felix received %#v, %v", got, err)
	}

	agent.Close()
	select {
	case <-exited:
		if vpptest.ExitCode(waitErr) != 1 {
			t.Errorf("felix-proxy exit after the agent left: %v, want status 1", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Error("felix-proxy still runs after the agent left")
	}
}

// The agent installs felix-proxy where Felix looks for it: executable,
// the same bytes, replaced atomically when it runs again.
func TestInstall(t *testing.T) {
	bin := buildProxy(t)
	dir := filepath.Join(t.TempDir(), "felix-plugins")
	for range 2 {
		dst, err := felixproxy.Install(bin, dir)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(bin)
		got, _ := os.ReadFile(dst)
		st, err := os.Stat(dst)
		if err != nil || st.Mode().Perm() != 0o755 || !bytes.Equal(got, want) || filepath.Base(dst) != "felix-api-proxy" {
			t.Fatalf("installed %s: %v %v, %d bytes of %d", dst, err, st.Mode(), len(got), len(want))
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left in %s: %v", dir, entries)
	}
	if _, err := felixproxy.Install(filepath.Join(t.TempDir(), "missing"), dir); err == nil || !strings.Contains(err.Error(), "install felix-proxy") {
		t.Errorf("missing binary: %v", err)
	}
}
