package health

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestProbes(t *testing.T) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	vppUp, stuck := false, false
	s := New(":0", []Check{
		{Name: "vpp", Err: func() error {
			if stuck {
				return errors.New("VPP unreachable for 2m0s")
			}
			return nil
		}},
	}, []Check{
		{Name: "vpp", Err: func() error {
			if !vppUp {
				return errors.New("not connected to VPP")
			}
			return nil
		}},
	}, func() any { return map[string]bool{"vppConnected": vppUp} }, l.WithField("c", "h"))
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	cases := []struct {
		up, stuck bool
		path      string
		wantCode  int
		wantBody  string
	}{
		{false, false, "/liveness", http.StatusOK, "ok"},
		{false, false, "/readiness", http.StatusServiceUnavailable, "vpp: not connected to VPP"},
		{false, false, "/status", http.StatusOK, `"vppConnected": false`},
		{false, true, "/liveness", http.StatusServiceUnavailable, "vpp: VPP unreachable for 2m0s"},
		{true, false, "/liveness", http.StatusOK, "ok"},
		{true, false, "/readiness", http.StatusOK, "ready"},
		{true, false, "/status", http.StatusOK, `"vppConnected": true`},
	}
	for _, c := range cases {
		vppUp, stuck = c.up, c.stuck
		code, body := get(c.path)
		if code != c.wantCode || !strings.Contains(body, c.wantBody) {
			t.Errorf("%s (vpp up %v, stuck %v) = %d %q, want %d with %q", c.path, c.up, c.stuck, code, body, c.wantCode, c.wantBody)
		}
	}
}
