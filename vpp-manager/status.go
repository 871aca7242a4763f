package vppmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// State is vpp-manager's published state.
type State string

// States, in the order they happen.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopped  State = "stopped"
	StateErrored  State = "errored"
)

// UplinkStatus is one uplink as VPP has it.
type UplinkStatus struct {
	Name      string   `json:"name"`
	Driver    string   `json:"driver"`
	SwIfIndex uint32   `json:"swIfIndex"`
	Addresses []string `json:"addresses"`
	MTU       int      `json:"mtu"`
}

// HostInterfaceStatus is vpptap0.
type HostInterfaceStatus struct {
	Name      string `json:"name"`
	Mode      string `json:"mode"` // vhost (VPP tap) or veth (AF_PACKET)
	SwIfIndex uint32 `json:"swIfIndex"`
}

// Status is what vpp-manager publishes for the agent in
// <run dir>/vppmanager-status.json (atomically replaced on each change).
type Status struct {
	State         State               `json:"state"`
	VPPPID        int                 `json:"vppPid,omitempty"`
	VPPNetns      string              `json:"vppNetns"`
	APISocket     string              `json:"apiSocket"`
	Uplinks       []UplinkStatus      `json:"uplinks,omitempty"`
	HostInterface HostInterfaceStatus `json:"hostInterface"`
	Error         string              `json:"error,omitempty"`
	Updated       time.Time           `json:"updated"`
}

// StatusFile is the status file's name in the run directory.
const StatusFile = "vppmanager-status.json"

// PIDFile is VPP's PID file's name in the run directory.
const PIDFile = "vpp.pid"

// ReadStatus reads a status file.
func ReadStatus(path string) (Status, error) {
	var s Status
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode %s: %w", path, err)
	}
	return s, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// runHook runs an operator's CALICOVPP_HOOK_* script with sh. A failing
// hook is logged, not fatal: hooks customise, they do not gate.
func runHook(ctx context.Context, log *logrus.Entry, name, script string, env []string) {
	if script == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "CALICOVPP_HOOK="+name)
	out, err := cmd.CombinedOutput()
	entry := log.WithField("hook", name)
	if err != nil {
		entry.WithError(err).WithField("output", string(out)).Warn("hook failed")
		return
	}
	entry.WithField("output", string(out)).Info("hook ran")
}
