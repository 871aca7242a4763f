// Package vpptest gives tests a VPP to talk to: fakevpp by default, a real
// VPP 25.10 when VPP_BINARY names one. Every test of the VPP layer and
// every integration test gets its VPP through this package, so that the
// same tests run against both.
package vpptest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/fakevpp"
)

// Logger returns a logger that writes to the test log only on failure
// when -v is not given.
func Logger(t testing.TB) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.InfoLevel)
	return l.WithField("test", t.Name())
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// InProcess starts a fakevpp engine in the test process, behind govpp's
// adapter interface, and returns a connected client. host may be nil (an
// in-memory host that knows no links).
func InProcess(t testing.TB, host fakevpp.Host, opts fakevpp.Options) (*vpplink.VPP, *fakevpp.Engine) {
	t.Helper()
	if host == nil {
		host = fakevpp.NewMemHost()
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	engine, err := fakevpp.NewEngine(quiet.WithField("component", "fakevpp"), host, opts)
	if err != nil {
		t.Fatalf("fakevpp engine: %v", err)
	}
	t.Cleanup(engine.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := vpplink.NewWithAdapter(ctx, fakevpp.NewAdapter(engine), Logger(t))
	if err != nil {
		t.Fatalf("connect to in-process fakevpp: %v", err)
	}
	t.Cleanup(v.Close)
	return v, engine
}

// New returns a VPP for a contract test: fakevpp in-process (fast, no
// privileges) by default, or a real VPP process in a fresh network
// namespace when VPP_BINARY is set. Tests written against New must hold
// for both.
func New(t testing.TB) *vpplink.VPP {
	t.Helper()
	if RealVPP() {
		return Start(t, Options{}).VPP
	}
	v, _ := InProcess(t, nil, fakevpp.Options{})
	return v
}
