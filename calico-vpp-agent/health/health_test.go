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
	vppUp := false
	s := New(":0", []Check{
		{Name: "vpp", Ready: func() error {
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
		up       bool
		path     string
		wantCode int
		wantBody string
	}{
		{false, "/liveness", http.StatusOK, "ok"},
		{false, "/readiness", http.StatusServiceUnavailable, "vpp: not connected to VPP"},
		{false, "/status", http.StatusOK, `"vppConnected": false`},
		{true, "/readiness", http.StatusOK, "ready"},
		{true, "/status", http.StatusOK, `"vppConnected": true`},
	}
	for _, c := range cases {
		vppUp = c.up
		code, body := get(c.path)
		if code != c.wantCode || !strings.Contains(body, c.wantBody) {
			t.Errorf("%s (vpp up %v) = %d %q, want %d with %q", c.path, c.up, code, body, c.wantCode, c.wantBody)
		}
	}
}
