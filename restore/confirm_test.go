package restore_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/builtfast/vectord/restore"
)

func TestConfirm(t *testing.T) {
	const question = "Import into site acme environment production? This replaces its database. [y/N] "
	tests := []struct {
		name      string
		input     string
		terminal  bool
		yes       bool
		wantOK    bool
		wantAsked bool
		wantInErr string
	}{
		{name: "yes flag, terminal", terminal: true, yes: true, wantOK: true},
		{name: "yes flag, no terminal", yes: true, wantOK: true},
		{name: "no terminal, no yes flag", input: "y\n", wantInErr: "--yes"},
		{name: "y", input: "y\n", terminal: true, wantOK: true, wantAsked: true},
		{name: "YES with spaces", input: "  YES \r\n", terminal: true, wantOK: true, wantAsked: true},
		{name: "y at end of input", input: "y", terminal: true, wantOK: true, wantAsked: true},
		{name: "empty line", input: "\n", terminal: true, wantAsked: true},
		{name: "n", input: "n\n", terminal: true, wantAsked: true},
		{name: "yess", input: "yess\n", terminal: true, wantAsked: true},
		{name: "end of input", input: "", terminal: true, wantAsked: true},
		{name: "y on the second line", input: "\ny\n", terminal: true, wantAsked: true},
	}
	tgt := restore.Target{Site: "acme", Environment: "production", SiteID: "1", EnvironmentID: "2"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := restore.Confirm(strings.NewReader(tt.input), &out, tt.terminal, tt.yes, tgt)
			if tt.wantOK != (err == nil) || (err != nil && !errors.Is(err, restore.ErrNotConfirmed)) {
				t.Errorf("Confirm(%q, terminal %v, yes %v) = %v, want confirmed %v (else ErrNotConfirmed)", tt.input, tt.terminal, tt.yes, err, tt.wantOK)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Confirm() = %v, want it to mention %q", err, tt.wantInErr)
			}
			asked := out.String() == question
			if asked != tt.wantAsked || (!tt.wantAsked && out.Len() != 0) {
				t.Errorf("Confirm() wrote %q, want asked %v (%q)", out.String(), tt.wantAsked, question)
			}
		})
	}
}

// TestConfirmReadsOneLine: what follows the answer stays unread.
func TestConfirmReadsOneLine(t *testing.T) {
	in := strings.NewReader("y\nrest")
	if err := restore.Confirm(in, io.Discard, true, false, restore.Target{Site: "a", Environment: "b"}); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(in); string(rest) != "rest" {
		t.Errorf("after Confirm, %q is left to read, want %q", rest, "rest")
	}
}

func TestConfirmWriteError(t *testing.T) {
	err := restore.Confirm(strings.NewReader("y\n"), failWriter{}, true, false, restore.Target{Site: "a", Environment: "b"})
	if err == nil || errors.Is(err, restore.ErrNotConfirmed) {
		t.Errorf("Confirm() with a failing output = %v, want the write error", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// FuzzConfirm: only an answer that is y or yes confirms, and nothing past
// the first line is read.
func FuzzConfirm(f *testing.F) {
	for _, s := range []string{"y\n", "yes\n", "Y", "no\n", "", "\n", "y es\n", "yes\nyes\n", "\xffy\n", strings.Repeat(" ", 300) + "y\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		in := strings.NewReader(input)
		err := restore.Confirm(in, io.Discard, true, false, restore.Target{Site: "a", Environment: "b"})
		line, rest, found := strings.Cut(input, "\n")
		answer := strings.ToLower(strings.TrimSpace(line))
		want := len(line) <= 256 && (answer == "y" || answer == "yes")
		if (err == nil) != want {
			t.Errorf("Confirm(%q) = %v, want confirmed %v", input, err, want)
		}
		if err != nil && !errors.Is(err, restore.ErrNotConfirmed) {
			t.Errorf("Confirm(%q) = %v, want ErrNotConfirmed", input, err)
		}
		left, _ := io.ReadAll(in)
		if found && string(left) != rest {
			t.Errorf("Confirm(%q) left %q unread, want %q", input, left, rest)
		}
	})
}
