// Package startupconf renders VPP's startup.conf from the operator's
// template (CALICOVPP_CONFIG_TEMPLATE): placeholders are substituted and
// the sections the chosen uplink driver needs are added.
package startupconf

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

// DefaultTemplate is used when CALICOVPP_CONFIG_TEMPLATE is empty.
// __RUN_DIR__ and __API_SOCKET__ are filled from the configured paths.
const DefaultTemplate = `unix {
  nodaemon
  full-coredump
  cli-listen __RUN_DIR__/cli.sock
  pidfile __RUN_DIR__/vpp.pid
  log __RUN_DIR__/vpp.log
  exec __STARTUP_EXEC__
}
api-trace { on }
socksvr { socket-name __API_SOCKET__ }
cpu { workers 0 }
buffers { buffers-per-numa 131072 }
`

// Uplink is what the template may refer to about one uplink.
type Uplink struct {
	Name        string // Linux interface name
	Driver      config.Driver
	PCI         string
	NumRxQueues int
	NumTxQueues int
	RxQueueSize int
	TxQueueSize int
}

// Params feed Render.
type Params struct {
	Uplinks     []Uplink // the main one first
	Annotations map[string]string
	Hugepages   bool // the host has hugepages for DPDK
	RunDir      string
	APISocket   string
	StartupExec string
}

var (
	indexed    = regexp.MustCompile(`__(PCI_DEVICE_ID|VPP_DATAPLANE_IF)_(\d+)__`)
	annotation = regexp.MustCompile(`__NODE_ANNOTATION:([^_\s][^\s]*?)__`)
	leftover   = regexp.MustCompile(`__[A-Z][A-Z0-9_]*(:[^\s]*)?__`)
)

// Render substitutes the placeholders of tmpl and adds the driver
// sections. An unknown placeholder, an uplink index out of range or a
// missing annotation is an error naming it.
func Render(tmpl string, p Params) (string, error) {
	if strings.TrimSpace(tmpl) == "" {
		tmpl = DefaultTemplate
	}
	var errs []string
	out := indexed.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := indexed.FindStringSubmatch(m)
		var n int
		fmt.Sscan(sub[2], &n)
		if n >= len(p.Uplinks) {
			errs = append(errs, fmt.Sprintf("%s: there is no uplink %d (%d configured)", m, n, len(p.Uplinks)))
			return m
		}
		return uplinkField(p.Uplinks[n], sub[1])
	})
	out = annotation.ReplaceAllStringFunc(out, func(m string) string {
		key := annotation.FindStringSubmatch(m)[1]
		v, ok := p.Annotations[key]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: the node has no annotation %q", m, key))
			return m
		}
		return v
	})
	simple := map[string]string{
		"__RUN_DIR__":      p.RunDir,
		"__API_SOCKET__":   p.APISocket,
		"__STARTUP_EXEC__": p.StartupExec,
	}
	if len(p.Uplinks) > 0 {
		simple["__PCI_DEVICE_ID__"] = p.Uplinks[0].PCI
		simple["__VPP_DATAPLANE_IF__"] = p.Uplinks[0].Name
	}
	keys := make([]string, 0, len(simple))
	for k := range simple {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = strings.ReplaceAll(out, k, simple[k])
	}
	for _, m := range leftover.FindAllString(out, -1) {
		if !strings.Contains(strings.Join(errs, "\n"), m) {
			errs = append(errs, fmt.Sprintf("%s: unknown placeholder", m))
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%s: %s", config.EnvConfigTemplate, strings.Join(errs, "; "))
	}
	return addDriverSections(out, p), nil
}

func uplinkField(u Uplink, field string) string {
	if field == "PCI_DEVICE_ID" {
		return u.PCI
	}
	return u.Name
}

// addDriverSections adds dpdk { dev ... } for DPDK uplinks (named after
// the Linux interface so vpp-manager finds them), no-hugetlb without
// hugepages, and disables the dpdk plugin when no uplink uses DPDK.
func addDriverSections(conf string, p Params) string {
	var devs []string
	for _, u := range p.Uplinks {
		if u.Driver != config.DriverDPDK || u.PCI == "" {
			continue
		}
		opts := []string{"name " + u.Name}
		if u.NumRxQueues > 0 {
			opts = append(opts, fmt.Sprintf("num-rx-queues %d", u.NumRxQueues))
		}
		if u.NumTxQueues > 0 {
			opts = append(opts, fmt.Sprintf("num-tx-queues %d", u.NumTxQueues))
		}
		if u.RxQueueSize > 0 {
			opts = append(opts, fmt.Sprintf("num-rx-desc %d", u.RxQueueSize))
		}
		if u.TxQueueSize > 0 {
			opts = append(opts, fmt.Sprintf("num-tx-desc %d", u.TxQueueSize))
		}
		devs = append(devs, fmt.Sprintf("  dev %s { %s }", u.PCI, strings.Join(opts, " ")))
	}
	if len(devs) == 0 {
		if !strings.Contains(conf, "dpdk_plugin.so") {
			conf = strings.TrimRight(conf, "\n") + "\nplugins { plugin dpdk_plugin.so { disable } }\n"
		}
		return conf
	}
	body := strings.Join(devs, "\n")
	if !p.Hugepages {
		body += "\n  no-hugetlb"
	}
	if loc := regexp.MustCompile(`(?m)^dpdk\s*\{`).FindStringIndex(conf); loc != nil {
		return conf[:loc[1]] + "\n" + body + conf[loc[1]:]
	}
	return strings.TrimRight(conf, "\n") + "\ndpdk {\n" + body + "\n}\n"
}
