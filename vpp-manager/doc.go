// Package vppmanager will hold vpp-manager: it takes the uplink over from
// Linux, starts VPP, keeps the host connected through vpptap0 and gives
// the uplink back when VPP exits. Not implemented yet (issue 4).
package vppmanager
