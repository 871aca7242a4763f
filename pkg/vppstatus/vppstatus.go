// Package vppstatus is the contract between vpp-manager and the agent:
// the status file vpp-manager publishes in its run directory.
package vppstatus

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
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
	HostInterface HostInterfaceStatus `json:"hostInterface"` // the main uplink's (vpptap0)
	// HostInterfaces has one host interface per uplink, the main one first.
	HostInterfaces []HostInterfaceStatus `json:"hostInterfaces,omitempty"`
	Error          string                `json:"error,omitempty"`
	Updated        time.Time             `json:"updated"`
}

// StatusFile is the status file's name in the run directory.
const StatusFile = "vppmanager-status.json"

// PIDFile is VPP's PID file's name in the run directory.
const PIDFile = "vpp.pid"

// Read reads a status file.
func Read(path string) (Status, error) {
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
