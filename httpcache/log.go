package httpcache

import "log/slog"

const (
	slogWarn  = slog.LevelWarn
	slogDebug = slog.LevelDebug
)

func attr(k, v string) slog.Attr { return slog.String(k, v) }

func errAttr(err error) slog.Attr { return slog.Any("err", err) }
