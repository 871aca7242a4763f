package vppconn_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppconn"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

func writeStatus(t *testing.T, path string, st vppstatus.Status, updated time.Time) {
	t.Helper()
	st.Updated = updated
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// A "running" status written before the VPP behind its socket started is
// what a SIGKILLed vpp-manager leaves while its successor sets a new VPP
// up: the holder must not connect to that VPP until the status is renewed.
func TestStaleRunningStatusIsNotTrusted(t *testing.T) {
	statusFile := filepath.Join(t.TempDir(), vppstatus.StatusFile)
	before := time.Now().Add(-time.Second)
	v := vpptest.Start(t, vpptest.Options{})
	connects := make(chan int, 4)
	h := vppconn.New(vppconn.Options{StatusFile: statusFile, Poll: 20 * time.Millisecond, Log: vpptest.Logger(t),
		OnConnect: func(_ *vpplink.VPP, st vppstatus.Status) { connects <- st.VPPPID }})
	writeStatus(t, statusFile, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: v.PID(), APISocket: v.APISocket}, before)

	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return h.Run(ctx) })
	t.Cleanup(func() { cancel(); _ = g.Wait() })

	// Many polls: none may connect.
	time.Sleep(300 * time.Millisecond)
	if _, err := h.Get(); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("Get with a stale status = %v, want a stale-status error", err)
	}
	if len(connects) != 0 {
		t.Fatal("connected to a VPP the status does not describe")
	}

	writeStatus(t, statusFile, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: v.PID(), APISocket: v.APISocket}, time.Now())
	select {
	case pid := <-connects:
		if pid != v.PID() {
			t.Errorf("connected with status pid %d, want %d", pid, v.PID())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no connection after vpp-manager published the new VPP")
	}
}
