package fakevpp_test

import (
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/fakevpp"
)

func newEngine(t *testing.T, opts fakevpp.Options) *fakevpp.Engine {
	t.Helper()
	l := logrus.New()
	l.SetOutput(io.Discard)
	e, err := fakevpp.NewEngine(l.WithField("component", "fakevpp"), fakevpp.NewMemHost(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every message the VPP layer uses must be in fakevpp's table with VPP
// 25.10's CRC, or govpp's compatibility check fails at connect.
func TestImplementsEveryUsedMessage(t *testing.T) {
	e := newEngine(t, fakevpp.Options{})
	for _, m := range vpplink.UsedMessages() {
		if _, ok := e.MsgID(m.GetMessageName(), m.GetCrcString()); !ok {
			t.Errorf("fakevpp lacks %s_%s", m.GetMessageName(), m.GetCrcString())
		}
	}
}

func TestMemclntNumbering(t *testing.T) {
	e := newEngine(t, fakevpp.Options{})
	cases := []struct {
		name, crc string
		id        uint16
	}{
		{"sockclnt_create", "455fb9c4", 15},
		{"sockclnt_delete", "8ac76db6", 17},
		{"control_ping", "51077d14", 23},
		{"control_ping_reply", "f6b0b8ca", 24},
	}
	for _, c := range cases {
		if id, ok := e.MsgID(c.name, c.crc); !ok || id != c.id {
			t.Errorf("%s = %d (%v), want %d", c.name, id, ok, c.id)
		}
	}
}

func TestBadDPDKDevice(t *testing.T) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if _, err := fakevpp.NewEngine(l.WithField("c", "f"), fakevpp.NewMemHost(), fakevpp.Options{DPDKDevices: []fakevpp.DPDKDevice{{PCI: "zz"}}}); err == nil {
		t.Error("an invalid PCI address was accepted")
	}
}
