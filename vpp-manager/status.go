package vppmanager

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/atomicfile"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// Aliases of the shared status types, for vpp-manager's own code.
type (
	// Status is vpp-manager's published state (see package vppstatus).
	Status = vppstatus.Status
	// State is Status.State.
	State = vppstatus.State
	// UplinkStatus describes an uplink in Status.
	UplinkStatus = vppstatus.UplinkStatus
	// HostInterfaceStatus describes vpptap0 in Status.
	HostInterfaceStatus = vppstatus.HostInterfaceStatus
)

// The states and file names, from package vppstatus.
const (
	StateStarting = vppstatus.StateStarting
	StateRunning  = vppstatus.StateRunning
	StateStopped  = vppstatus.StateStopped
	StateErrored  = vppstatus.StateErrored
	StatusFile    = vppstatus.StatusFile
	PIDFile       = vppstatus.PIDFile
)

// ReadStatus reads a status file.
func ReadStatus(path string) (Status, error) { return vppstatus.Read(path) }

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

func writeFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data, 0o644) }

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
