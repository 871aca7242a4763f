package vpptest

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

func TestStartConnectsAndStops(t *testing.T) {
	inst := Start(t, Options{Exec: []string{"comment { set up at start }"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := inst.VPP.Version(ctx)
	if err != nil {
		t.Fatalf("show version: %v", err)
	}
	if !strings.HasPrefix(v.Version, "25.10") {
		t.Errorf("version = %q, want 25.10*", v.Version)
	}
	ifs, err := inst.VPP.Interfaces(ctx)
	if err != nil || len(ifs) == 0 || ifs[0].Name != "local0" {
		t.Fatalf("interfaces = %+v, %v; want local0 first", ifs, err)
	}
	inst.VPP.Close()
	inst.VPP = nil
	if err := inst.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exitErr, done := inst.Wait(10 * time.Second)
	if !done {
		t.Fatal("VPP did not stop on SIGTERM")
	}
	if code := ExitCode(exitErr); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, inst.Output())
	}
}

func TestLostConnectionIsReported(t *testing.T) {
	inst := Start(t, Options{})
	if err := inst.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := inst.VPP.WaitDisconnected(ctx)
	if err == nil {
		t.Fatal("no disconnection reported within 20s")
	}
	if !strings.Contains(err.Error(), vpplink.ErrConnectionLost.Error()) {
		t.Errorf("err = %v, want it to wrap ErrConnectionLost", err)
	}
}
