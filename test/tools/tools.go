//go:build tools

// Package tools pins the real components the end-to-end tests run: etcd,
// kube-apiserver, kube-controller-manager, kubectl, cnitool and the CNI
// plugins. They are built from these modules (never downloaded as
// binaries) into test/tools/bin by hack/build-tools.sh.
package tools

import (
	_ "github.com/containernetworking/cni/cnitool"
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)
