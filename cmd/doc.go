// Package cmd holds one directory per binary (cmd/<binary>/main.go): thin
// mains that parse flags and the environment, build the object graph and
// run it. The binaries arrive with their issues (vpp-manager, agent,
// cni-plugin, felix-proxy, calivppctl).
package cmd
