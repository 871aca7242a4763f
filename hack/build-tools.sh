#!/usr/bin/env bash
# Builds the real components the end-to-end tests run (etcd,
# kube-apiserver, kube-controller-manager, kubectl, cnitool, host-local,
# Calico's CNI plugin and calico-ipam) from the Go modules pinned in
# test/tools/go.mod and test/tools/calico/go.mod, into test/tools/bin.
# A build is reused while those modules and this script are unchanged.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/../test/tools"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB=k8s.io,github.com/projectcalico
stamp=bin/.stamp
want=$(cat go.mod go.sum calico/go.mod calico/go.sum "$script" | sha256sum | cut -d' ' -f1)
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
# Calico's plugin picks its role from its file name: calico or calico-ipam.
build_calico() {
	echo "building calico, calico-ipam" >&2
	(cd calico && go build -trimpath -ldflags "-s -w -X github.com/projectcalico/calico/pkg/buildinfo.Version=v3.31-b1f3c43" \
		-o ../bin/calico github.com/projectcalico/calico/cni-plugin/cmd/calico)
	ln -f bin/calico bin/calico-ipam
}
build etcd ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
build cnitool github.com/containernetworking/cni/cnitool
build host-local github.com/containernetworking/plugins/plugins/ipam/host-local
build_calico
echo "$want" > "$stamp"
