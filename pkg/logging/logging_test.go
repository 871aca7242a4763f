package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

func TestComponentLogger(t *testing.T) {
	cases := []struct {
		name   string
		format config.LogFormat
		check  func(t *testing.T, out string)
	}{
		{"text", config.LogFormatText, func(t *testing.T, out string) {
			if !strings.Contains(out, "component=routing") || !strings.Contains(out, "peer=198.18.0.2") {
				t.Errorf("text output %q lacks fields", out)
			}
		}},
		{"json", config.LogFormatJSON, func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("not JSON: %q", out)
			}
			if m["component"] != "routing" || m["msg"] != "up" {
				t.Errorf("json fields = %v", m)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := Component(New(&buf, logrus.InfoLevel, c.format), "routing")
			log.WithField("peer", "198.18.0.2").Info("up")
			log.Debug("hidden")
			if strings.Contains(buf.String(), "hidden") {
				t.Errorf("debug line written at info level")
			}
			c.check(t, buf.String())
		})
	}
}
