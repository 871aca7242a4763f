// Package cniplugin will hold the CNI plugin that delegates IPAM and asks
// the agent over Calico's gRPC dataplane protocol. Not implemented yet
// (issue 6).
package cniplugin
