package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/logging"
)

func TestJournalHandlerLines(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"error", func(l *slog.Logger) { l.Error("backup failed", "site", "acme", "error", "export failed") },
			`<3>level=ERROR msg="backup failed" site=acme error="export failed"` + "\n"},
		{"above error", func(l *slog.Logger) { l.Log(context.Background(), slog.LevelError+4, "catalog lost") },
			`<3>level=ERROR+4 msg="catalog lost"` + "\n"},
		{"warn", func(l *slog.Logger) { l.Warn("url expired", "export_id", "exp_1") },
			`<4>level=WARN msg="url expired" export_id=exp_1` + "\n"},
		{"info", func(l *slog.Logger) { l.Info("backup stored", "bytes", 1048576, "duration", 90*time.Second) },
			`<6>level=INFO msg="backup stored" bytes=1048576 duration=1m30s` + "\n"},
		{"between info and warn", func(l *slog.Logger) { l.Log(context.Background(), slog.LevelInfo+2, "notice") },
			`<6>level=INFO+2 msg=notice` + "\n"},
		{"debug", func(l *slog.Logger) { l.Debug("poll", "export_id", "exp_1") },
			`<7>level=DEBUG msg=poll export_id=exp_1` + "\n"},
		{"with attrs and groups", func(l *slog.Logger) {
			l.With("site", "acme").WithGroup("job").Info("queued", "environment", "production")
		}, `<6>level=INFO msg=queued site=acme job.environment=production` + "\n"},
		{"newlines stay on one line", func(l *slog.Logger) { l.Warn("two\nlines", "error", "a\nb") },
			`<4>level=WARN msg="two\nlines" error="a\nb"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(logging.JournalHandler(&buf, slog.LevelDebug)))
			if got := buf.String(); got != tt.want {
				t.Errorf("journal line = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJournalHandlerDropsRecordsBelowLevel(t *testing.T) {
	var buf bytes.Buffer
	var level slog.LevelVar
	level.Set(slog.LevelInfo)
	h := logging.JournalHandler(&buf, &level)
	l := slog.New(h)
	l.Debug("hidden")
	if buf.Len() != 0 || h.Enabled(context.Background(), slog.LevelDebug) {
		t.Errorf("at level INFO a debug record wrote %q (Enabled = %v), want nothing", buf.String(), h.Enabled(context.Background(), slog.LevelDebug))
	}
	level.Set(slog.LevelDebug) // a reload may lower the level
	l.Debug("shown")
	if got, want := buf.String(), "<7>level=DEBUG msg=shown\n"; got != want {
		t.Errorf("after lowering the level: %q, want %q", got, want)
	}
}

// TestJournalHandlerConcurrentPriorities checks that under concurrent
// logging every line carries its own record's priority, whole.
func TestJournalHandlerConcurrentPriorities(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(logging.JournalHandler(&buf, slog.LevelDebug))
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	want := map[string]string{"DEBUG": "<7>", "INFO": "<6>", "WARN": "<4>", "ERROR": "<3>"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			l := root.With("worker", g)
			for i := range 50 {
				l.Log(context.Background(), levels[(g+i)%len(levels)], "tick", "i", i)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8*50 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*50)
	}
	for _, line := range lines {
		rest, _, _ := strings.Cut(line[3:], " ")
		level := strings.TrimPrefix(rest, "level=")
		if !strings.HasPrefix(line, want[level]) || !strings.Contains(line, " msg=tick worker=") {
			t.Fatalf("line %q: want prefix %q for its level and one whole record", line, want[level])
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJournalHandlerReportsWriteErrors(t *testing.T) {
	h := logging.JournalHandler(failingWriter{}, slog.LevelInfo)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	if err := h.Handle(context.Background(), r); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Handle to a failing writer = %v, want its error", err)
	}
}

func FuzzJournalHandler(f *testing.F) {
	f.Add("backup stored", "site", "acme", 0)
	f.Add("two\nlines", "error", "a\r\nb", 8)
	f.Add("", "", "", -4)
	f.Add("<3>forged", "k\n", "\x00\xff", 12)
	f.Fuzz(func(t *testing.T, msg, key, value string, level int) {
		var buf bytes.Buffer
		slog.New(logging.JournalHandler(&buf, slog.Level(math.MinInt))).Log(context.Background(), slog.Level(level), msg, key, value)
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("record wrote %q, want exactly one line", out)
		}
		if len(out) < 4 || out[0] != '<' || !strings.ContainsRune("3467", rune(out[1])) || out[2] != '>' {
			t.Fatalf("record wrote %q, want a <3>, <4>, <6> or <7> prefix", out)
		}
	})
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestNewLoggerFormats(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, out string)
	}{
		{"journald", map[string]string{"JOURNAL_STREAM": "8:12345"}, func(t *testing.T, out string) {
			if want := "<6>level=INFO msg=\"backup stored\" site=acme duration=1m30s\n"; out != want {
				t.Errorf("under journald: %q, want %q", out, want)
			}
		}},
		{"elsewhere", nil, func(t *testing.T, out string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil || rec["msg"] != "backup stored" || rec["site"] != "acme" || rec["time"] == nil {
				t.Errorf("outside journald and a terminal: %q (%v), want a JSON record with time", out, err)
			}
			if rec["duration"] != "1m30s" {
				t.Errorf("outside journald and a terminal: duration %#v, want \"1m30s\"", rec["duration"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logging.NewLogger(&buf, slog.LevelInfo, env(tt.env)).Info("backup stored", "site", "acme", "duration", 90*time.Second)
			tt.check(t, buf.String())
		})
	}
}
