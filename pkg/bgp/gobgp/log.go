package gobgp

import (
	"context"
	"fmt"
	"log/slog"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// logger hands GoBGP's logs to slog. GoBGP logs every session step at
// info; vipd logs session changes itself, so those are debug here.
type logger struct {
	log   *slog.Logger
	level gobgplog.LogLevel
}

var _ gobgplog.Logger = (*logger)(nil)

func (l *logger) emit(lv slog.Level, msg string, fields gobgplog.Fields) {
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		attrs = append(attrs, k, v)
	}
	l.log.Log(context.Background(), lv, "gobgp: "+msg, attrs...)
}

// Panic and Fatal are GoBGP's broken invariants: vipd must not exit from
// inside a library, so it panics and systemd restarts it.
func (l *logger) Panic(msg string, fields gobgplog.Fields) {
	l.emit(slog.LevelError, msg, fields)
	panic(fmt.Sprintf("gobgp: %s %v", msg, fields))
}

func (l *logger) Fatal(msg string, fields gobgplog.Fields) { l.Panic(msg, fields) }

func (l *logger) Error(msg string, fields gobgplog.Fields) {
	l.emit(slog.LevelError, msg, fields)
}

func (l *logger) Warn(msg string, fields gobgplog.Fields) {
	l.emit(slog.LevelWarn, msg, fields)
}

func (l *logger) Info(msg string, fields gobgplog.Fields) {
	l.emit(slog.LevelDebug, msg, fields)
}

func (l *logger) Debug(msg string, fields gobgplog.Fields) {
	l.emit(slog.LevelDebug-4, msg, fields)
}

func (l *logger) SetLevel(level gobgplog.LogLevel) { l.level = level }

func (l *logger) GetLevel() gobgplog.LogLevel { return l.level }
