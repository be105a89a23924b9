package devserver

import (
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger is the server's logger, silent once Stop has begun: while the services shut down, their last
// database and RPC calls fail with "context canceled", errors that mean nothing to the server's users (on
// PostgreSQL a query is more often in flight at that moment than on SQLite).
type serverLogger struct {
	log.Logger
	stopping *atomic.Bool
}

func newServerLogger(level string) *serverLogger {
	var base log.Logger = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: level, Stdout: false}))
	if s, ok := base.(log.SkipLogger); ok {
		base = s.Skip(1) // the call site, not this wrapper
	}
	return &serverLogger{Logger: base, stopping: new(atomic.Bool)}
}

// Every method is wrapped, so that each adds the same one frame the Skip above accounts for.
func (l *serverLogger) Debug(msg string, tags ...tag.Tag)  { l.Logger.Debug(msg, tags...) }
func (l *serverLogger) Info(msg string, tags ...tag.Tag)   { l.Logger.Info(msg, tags...) }
func (l *serverLogger) DPanic(msg string, tags ...tag.Tag) { l.Logger.DPanic(msg, tags...) }
func (l *serverLogger) Panic(msg string, tags ...tag.Tag)  { l.Logger.Panic(msg, tags...) }
func (l *serverLogger) Fatal(msg string, tags ...tag.Tag)  { l.Logger.Fatal(msg, tags...) }

func (l *serverLogger) Warn(msg string, tags ...tag.Tag) {
	if !l.stopping.Load() {
		l.Logger.Warn(msg, tags...)
	}
}

func (l *serverLogger) Error(msg string, tags ...tag.Tag) {
	if !l.stopping.Load() {
		l.Logger.Error(msg, tags...)
	}
}

// With keeps the tagged loggers the services derive silent at stop too.
func (l *serverLogger) With(tags ...tag.Tag) log.Logger {
	return &serverLogger{Logger: log.With(l.Logger, tags...), stopping: l.stopping}
}
