package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/logging"
)

// logfmtTime matches the time a text handler writes first.
var logfmtTime = regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) `)

// msgRE finds the message of a logfmt or JSON line.
var msgRE = regexp.MustCompile(`msg"?[=:]"?(\w+)`)

// logShutdown writes a record with durations at the top level, in a
// group and through With.
func logShutdown(l *slog.Logger) {
	l.With("grace", 90*time.Second).Info("shutting down",
		"shutdown_timeout", 5*time.Minute,
		slog.Duration("duration", 323954*time.Millisecond),
		slog.Group("job", "site", "acme", "elapsed", 1500*time.Microsecond))
}

func TestNewLogfmt(t *testing.T) {
	for _, format := range []string{"logfmt", ""} {
		t.Run("format "+format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := logging.New(&buf, logging.Options{Format: format, Level: "info"}, env(nil))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			logShutdown(l)
			l.Info("backup failed", "error", "export exp_1: status failed")
			out := buf.String()
			want := `level=INFO msg="shutting down" grace=1m30s shutdown_timeout=5m0s duration=5m23.954s job.site=acme job.elapsed=1.5ms` + "\n" +
				`level=INFO msg="backup failed" error="export exp_1: status failed"` + "\n"
			var got string
			for line := range bytes.Lines([]byte(out)) {
				loc := logfmtTime.FindIndex(line)
				if loc == nil {
					t.Fatalf("line %q does not start with time=RFC 3339", line)
				}
				got += string(line[loc[1]:])
			}
			if got != want {
				t.Errorf("logfmt output (times cut) =\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	l, err := logging.New(&buf, logging.Options{Format: "json"}, env(nil))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	logShutdown(l)
	var rec struct {
		Time            time.Time
		Level, Msg      string
		Grace           any
		ShutdownTimeout any `json:"shutdown_timeout"`
		Duration        any
		Job             struct {
			Site    string
			Elapsed any
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("JSON output %q: %v", buf.String(), err)
	}
	if rec.Time.IsZero() || rec.Level != "INFO" || rec.Msg != "shutting down" || rec.Job.Site != "acme" {
		t.Errorf("JSON output %q: want time, level INFO, msg and job.site", buf.String())
	}
	for _, d := range []struct {
		key       string
		got, want any
	}{
		{"grace", rec.Grace, "1m30s"},
		{"shutdown_timeout", rec.ShutdownTimeout, "5m0s"},
		{"duration", rec.Duration, "5m23.954s"},
		{"job.elapsed", rec.Job.Elapsed, "1.5ms"},
	} {
		if d.got != d.want {
			t.Errorf("JSON %s = %#v, want %q", d.key, d.got, d.want)
		}
	}
}

func TestNewLevels(t *testing.T) {
	tests := []struct {
		level string
		want  []string // the messages written, of debug, info, warn, error
	}{
		{"", []string{"info", "warn", "error"}},
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"info", []string{"info", "warn", "error"}},
		{"warn", []string{"warn", "error"}},
		{"error", []string{"error"}},
	}
	for _, tt := range tests {
		for _, format := range []string{"logfmt", "json"} {
			t.Run(format+" "+tt.level, func(t *testing.T) {
				var buf bytes.Buffer
				l, err := logging.New(&buf, logging.Options{Format: format, Level: tt.level}, env(nil))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				l.Debug("debug")
				l.Info("info")
				l.Warn("warn")
				l.Error("error")
				var got []string
				for line := range bytes.Lines(buf.Bytes()) {
					m := msgRE.FindSubmatch(line)
					if m == nil {
						t.Fatalf("line %q has no msg", line)
					}
					got = append(got, string(m[1]))
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("at level %q wrote %q, want %q", tt.level, got, tt.want)
				}
			})
		}
	}
}

// TestNewUnderJournald checks that journald is detected as before, whatever
// the configured format, and that the level still applies.
func TestNewUnderJournald(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := logging.New(&buf, logging.Options{Format: format, Level: "warn"}, env(map[string]string{"JOURNAL_STREAM": "8:12345"}))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			l.Info("hidden")
			l.Warn("shutting down", "shutdown_timeout", 5*time.Minute)
			if got, want := buf.String(), "<4>level=WARN msg=\"shutting down\" shutdown_timeout=5m0s\n"; got != want {
				t.Errorf("under journald with format %s: %q, want %q", format, got, want)
			}
		})
	}
}

func TestNewRefusesUnknownValues(t *testing.T) {
	tests := []struct {
		opts logging.Options
		want string
	}{
		{logging.Options{Format: "text"}, `unknown log format "text": use logfmt or json`},
		{logging.Options{Format: "JSON"}, `unknown log format "JSON": use logfmt or json`},
		{logging.Options{Level: "warning"}, `unknown log level "warning": use debug, info, warn or error`},
		{logging.Options{Format: "json", Level: "INFO"}, `unknown log level "INFO": use debug, info, warn or error`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l, err := logging.New(&buf, tt.opts, env(map[string]string{"JOURNAL_STREAM": "8:12345"}))
		if err == nil || err.Error() != tt.want || l != nil {
			t.Errorf("New(%+v) = %v, %v; want no logger and %q", tt.opts, l, err, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true},
		{"info", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"", 0, false},
		{"warning", 0, false},
		{"Info", 0, false},
		{"trace", 0, false},
	}
	for _, tt := range tests {
		got, err := logging.ParseLevel(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestNewFollowsItsLevelVar: a reload changes a running logger's level.
func TestNewFollowsItsLevelVar(t *testing.T) {
	var b bytes.Buffer
	lv := new(slog.LevelVar)
	log, err := logging.New(&b, logging.Options{Format: "logfmt", Level: "warn", LevelVar: lv}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log.Info("before")
	if lv.Level() != slog.LevelWarn || strings.Contains(b.String(), "before") {
		t.Fatalf("level %v, output %q: want warn and no info line", lv.Level(), b.String())
	}
	lv.Set(slog.LevelDebug)
	log.Debug("after")
	if !strings.Contains(b.String(), "msg=after") {
		t.Errorf("after the level changed to debug: %q", b.String())
	}
}
