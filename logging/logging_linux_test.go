//go:build linux

package logging_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/builtfast/vectord/logging"
)

// TestNewLoggerChecksJournalStream checks that JOURNAL_STREAM counts only
// when it names the file logged to, as it does for a service's stderr.
func TestNewLoggerChecksJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		stream      string
		wantJournal bool
	}{
		{"names the file", fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{"inherited from a parent", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"malformed", "not-a-stream", false},
		{"unset", "", false},
	}
	constructors := []struct {
		name string
		new  func(getenv func(string) string) *slog.Logger
	}{
		{"NewLogger", func(getenv func(string) string) *slog.Logger {
			return logging.NewLogger(f, slog.LevelInfo, getenv)
		}},
		{"New", func(getenv func(string) string) *slog.Logger {
			l, err := logging.New(f, logging.Options{Format: "json", Level: "info"}, getenv)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
	}
	for _, c := range constructors {
		for _, tt := range tests {
			t.Run(c.name+" "+tt.name, func(t *testing.T) {
				if err := f.Truncate(0); err != nil {
					t.Fatal(err)
				}
				if _, err := f.Seek(0, 0); err != nil {
					t.Fatal(err)
				}
				c.new(env(map[string]string{"JOURNAL_STREAM": tt.stream})).Warn("x")
				out, err := os.ReadFile(f.Name())
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.HasPrefix(string(out), "<4>"); got != tt.wantJournal {
					t.Errorf("JOURNAL_STREAM=%q wrote %q; journal format = %v, want %v", tt.stream, out, got, tt.wantJournal)
				}
			})
		}
	}
}

func TestNewLoggerOnTerminalIsText(t *testing.T) {
	tty := openPTY(t)
	l := logging.NewLogger(tty, slog.LevelInfo, env(nil))
	if _, ok := l.Handler().(*slog.TextHandler); !ok {
		t.Errorf("on a terminal NewLogger uses %T, want *slog.TextHandler", l.Handler())
	}
}

// TestNewOnTerminalFollowsFormat checks that the configured format applies
// on a terminal too.
func TestNewOnTerminalFollowsFormat(t *testing.T) {
	tty := openPTY(t)
	for format, want := range map[string]string{"logfmt": "*slog.TextHandler", "json": "*slog.JSONHandler"} {
		l, err := logging.New(tty, logging.Options{Format: format}, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", l.Handler()); got != want {
			t.Errorf("on a terminal New with format %s uses %s, want %s", format, got, want)
		}
	}
}

// openPTY returns the terminal side of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
