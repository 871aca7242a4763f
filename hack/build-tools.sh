#!/usr/bin/env bash
# Builds the real components the end-to-end tests run (etcd,
# kube-apiserver, kube-controller-manager, kubectl, cnitool, host-local)
# from the Go modules pinned in test/tools/go.mod, into test/tools/bin.
# A build is reused while test/tools/go.sum and this script are unchanged.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/../test/tools"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB=k8s.io
stamp=bin/.stamp
want=$(cat go.mod go.sum "$script" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
mkdir -p bin
k8sver=v1.33.5
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8sver} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33 -X k8s.io/client-go/pkg/version.gitVersion=${k8sver}"
build() { # name package
	echo "building $1" >&2
	go build -trimpath -ldflags "$ldflags" -o "bin/$1" "$2"
}
build etcd ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
build cnitool github.com/containernetworking/cni/cnitool
build host-local github.com/containernetworking/plugins/plugins/ipam/host-local
echo "$want" > "$stamp"
