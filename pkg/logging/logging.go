// Package logging builds the process logger from the configuration and
// hands out one entry per component, tagged with a "component" field.
package logging

import (
	"io"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

// New returns a logger writing to out at the given level and format.
func New(out io.Writer, level logrus.Level, format config.LogFormat) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(out)
	l.SetLevel(level)
	if format == config.LogFormatJSON {
		l.SetFormatter(&logrus.JSONFormatter{})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	}
	return l
}

// Component returns the logger of one component.
func Component(l logrus.FieldLogger, name string) *logrus.Entry {
	return l.WithField("component", name)
}
