// Package logging builds vectord's process logger: lines for journald when
// systemd captures its output, otherwise logfmt or JSON as configured.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/term"
)

// Syslog priorities (syslog(3)) that journald reads from a "<N>" line prefix.
const (
	prioErr     = '3'
	prioWarning = '4'
	prioInfo    = '6'
	prioDebug   = '7'
)

// JournalHandler returns a handler that writes each record to w as one
// logfmt line without a time (journald stamps every line itself), prefixed
// with the record's syslog priority as journald's stream protocol reads it:
// "<3>" for Error and above, "<4>" for Warn, "<6>" for Info and "<7>" for
// Debug and below. So "journalctl -p warning" selects warnings and errors.
// For example:
//
//	<6>level=INFO msg="backup stored" site=acme environment=production bytes=1048576
//
// Newlines in messages and values are quoted, so a record is never split
// across journal entries. Records below level are dropped. Each record is
// written with a single Write; a Write error is returned by Handle. The
// handler and those derived from it are safe for concurrent use.
func JournalHandler(w io.Writer, level slog.Leveler) slog.Handler {
	out := &prefixWriter{w: w}
	text := slog.NewTextHandler(out, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return &journalHandler{text: text, out: out}
}

// journalHandler formats with a slog.TextHandler writing into out, and sets
// the priority out prefixes to the line while it holds out's lock.
type journalHandler struct {
	text slog.Handler
	out  *prefixWriter
}

func (h *journalHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.prio = priority(r.Level)
	return h.text.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{text: h.text.WithAttrs(attrs), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{text: h.text.WithGroup(name), out: h.out}
}

// prefixWriter receives one formatted line per Write (slog's text handler
// writes each record at once) and writes it to w behind "<prio>".
type prefixWriter struct {
	mu   sync.Mutex // held by journalHandler.Handle around each record
	w    io.Writer
	prio byte
	buf  []byte
}

func (p *prefixWriter) Write(line []byte) (int, error) {
	p.buf = append(p.buf[:0], '<', p.prio, '>')
	p.buf = append(p.buf, line...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(line), nil
}

// priority maps a slog level to a syslog priority digit.
func priority(l slog.Level) byte {
	switch {
	case l >= slog.LevelError:
		return prioErr
	case l >= slog.LevelWarn:
		return prioWarning
	case l >= slog.LevelInfo:
		return prioInfo
	default:
		return prioDebug
	}
}

// Options are the settings of the configuration's log section.
type Options struct {
	// Format is "logfmt" (the default when empty) or "json". Under
	// journald it is not used: records are written as [JournalHandler]
	// writes them.
	Format string
	// Level is "debug", "info" (the default when empty), "warn" or
	// "error": records below it are dropped.
	Level string
	// LevelVar, if set, receives Level and is what the handler follows,
	// so that a configuration reload can change the level of a running
	// logger (LevelVar.Set).
	LevelVar *slog.LevelVar
}

// The formats of Options.Format.
const (
	formatLogfmt = "logfmt"
	formatJSON   = "json"
)

// New returns the process logger writing to w (normally os.Stderr):
//
//   - journald, when getenv("JOURNAL_STREAM") names w as [NewLogger]
//     describes: [JournalHandler], whatever o.Format says;
//   - otherwise o.Format: "logfmt", slog's text handler (time=... level=INFO
//     msg="backup stored" site=acme, values quoted when needed), or "json",
//     slog's JSON handler, one object a line.
//
// In every format a time.Duration value is written as its String ("5m0s",
// "1m30.5s"), not as a number of nanoseconds. Records below o.Level are
// dropped. New returns an error naming the value for an unknown format or
// level. A nil getenv reads the process environment.
//
// The logger writes what it is given: keeping tokens and presigned URLs'
// query strings out of records is the callers' job.
func New(w io.Writer, o Options, getenv func(string) string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if o.Level != "" {
		l, err := ParseLevel(o.Level)
		if err != nil {
			return nil, err
		}
		level = l
	}
	format := o.Format
	if format == "" {
		format = formatLogfmt
	}
	if format != formatLogfmt && format != formatJSON {
		return nil, fmt.Errorf("unknown log format %q: use %s or %s", o.Format, formatLogfmt, formatJSON)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	var leveler slog.Leveler = level
	if o.LevelVar != nil {
		o.LevelVar.Set(level)
		leveler = o.LevelVar
	}
	if toJournal(w, getenv("JOURNAL_STREAM")) {
		return slog.New(JournalHandler(w, leveler)), nil
	}
	opts := &slog.HandlerOptions{Level: leveler, ReplaceAttr: durationString}
	if format == formatJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// ParseLevel parses a configured log level: "debug", "info", "warn" or
// "error", as written in the configuration (lowercase).
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
}

// durationString is a ReplaceAttr that writes durations as their String:
// slog's JSON handler would write nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// NewLogger returns the process logger writing to w (normally os.Stderr)
// at level and above. It picks the format from where w goes:
//
//   - journald, when env("JOURNAL_STREAM") is set (systemd sets it for a
//     service whose output goes to the journal) and, if w is a file, names
//     w's device and inode, so a command started from a service with its
//     output redirected elsewhere is not mistaken for one: JournalHandler;
//   - a terminal: slog's text handler;
//   - anything else (a file, a pipe to a log shipper): slog's JSON handler.
//
// Durations are written as in [New]. A nil env reads the process
// environment. [New] takes the configured format instead.
func NewLogger(w io.Writer, level slog.Level, env func(string) string) *slog.Logger {
	if env == nil {
		env = os.Getenv
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationString}
	switch {
	case toJournal(w, env("JOURNAL_STREAM")):
		return slog.New(JournalHandler(w, level))
	case isTerminal(w):
		return slog.New(slog.NewTextHandler(w, opts))
	default:
		return slog.New(slog.NewJSONHandler(w, opts))
	}
}

// toJournal reports whether w is the journal stream named by stream
// ("DEVICE:INODE"). A writer that is not a file cannot be checked and is
// taken at the variable's word.
func toJournal(w io.Writer, stream string) bool {
	if stream == "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return true
	}
	return sameStream(f, stream)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
