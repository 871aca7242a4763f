//go:build tools

// Package tools pins Calico's CNI plugin (with calico-ipam, the same
// binary under another name), the real client of the agent's CNI server in
// the end-to-end tests. It is a module of its own: Calico's requirements
// (etcd 3.6 client libraries, newer gRPC) would otherwise move the
// versions the Kubernetes components in ../go.mod are built with.
package tools

import _ "github.com/projectcalico/calico/cni-plugin/cmd/calico"
