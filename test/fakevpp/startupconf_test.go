package fakevpp

import (
	"strings"
	"testing"
)

func TestParseStartupConfig(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    StartupConfig
		wantErr string
	}{
		{"full", `
unix {
  nodaemon
  full-coredump
  cli-listen /var/run/vpp/cli.sock
  pidfile /run/vpp/vpp.pid
  exec /etc/vpp/startup.exec
  runtime-dir /tmp/n1
}
api-trace { on }
socksvr { socket-name /tmp/n1/api.sock }   # the API socket
cpu { workers 0 }
buffers { page-size 4k buffers-per-numa 4096 }
memory { main-heap-page-size 4k }
dpdk { dev 0000:00:04.0 { name eth0 num-rx-queues 2 } dev 0000:00:05.0 }
plugins { path /usr/lib/vpp_plugins plugin default { enable } plugin dpdk_plugin.so { disable } }
`, StartupConfig{APISocket: "/tmp/n1/api.sock", PIDFile: "/run/vpp/vpp.pid", Exec: "/etc/vpp/startup.exec", RuntimeDir: "/tmp/n1",
			DPDK: []DPDKDevice{{PCI: "0000:00:04.0", Name: "eth0"}, {PCI: "0000:00:05.0"}}, PluginPath: "/usr/lib/vpp_plugins"}, ""},
		{"default socket", "socksvr { default }", StartupConfig{APISocket: "/run/vpp/api.sock"}, ""},
		{"section with a value", "heapsize 2G\nunix { nodaemon exec /tmp/x#y }", StartupConfig{APISocket: "/run/vpp/api.sock", Exec: "/tmp/x#y"}, ""},
		{"unknown section", "frobnicate { on }", StartupConfig{}, "unknown input `frobnicate'"},
		{"unknown unix key", "unix { nodaemon fly }", StartupConfig{}, "unix: unknown input `fly'"},
		{"unbalanced", "unix { nodaemon", StartupConfig{}, "missing '}'"},
		{"stray brace", "}", StartupConfig{}, "unexpected '}'"},
		{"bare word", "nodaemon", StartupConfig{}, "unknown input `nodaemon'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStartupConfig(c.text)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.APISocket != c.want.APISocket || got.PIDFile != c.want.PIDFile || got.Exec != c.want.Exec ||
				got.RuntimeDir != c.want.RuntimeDir || got.PluginPath != c.want.PluginPath || len(got.DPDK) != len(c.want.DPDK) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			for i := range got.DPDK {
				if got.DPDK[i] != c.want.DPDK[i] {
					t.Errorf("dpdk[%d] = %+v, want %+v", i, got.DPDK[i], c.want.DPDK[i])
				}
			}
		})
	}
}
