package restore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

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
			err := restore.Confirm(strings.NewReader(tt.input), &out, tt.terminal, tt.yes, tgt, restore.Origin{})
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
	if err := restore.Confirm(in, io.Discard, true, false, restore.Target{Site: "a", Environment: "b"}, restore.Origin{}); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(in); string(rest) != "rest" {
		t.Errorf("after Confirm, %q is left to read, want %q", rest, "rest")
	}
}

func TestConfirmWriteError(t *testing.T) {
	err := restore.Confirm(strings.NewReader("y\n"), failWriter{}, true, false, restore.Target{Site: "a", Environment: "b"}, restore.Origin{})
	if err == nil || errors.Is(err, restore.ErrNotConfirmed) {
		t.Errorf("Confirm() with a failing output = %v, want the write error", err)
	}
}

// TestConfirmNamesSourceAndTarget: the question (and the refusal without
// a terminal) names the backup or file imported, where it goes, and says
// when a backup goes to another site or environment than it came from.
func TestConfirmNamesSourceAndTarget(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	completed := time.Date(2026, 5, 2, 3, 12, 44, 0, cest)
	backup := func(site, env string) restore.Origin {
		return restore.Origin{BackupID: "01jtb4x0000000000000000000", Site: site, Environment: env, CompletedAt: completed, Size: 1288490189}
	}
	const source = "backup 01jtb4x0000000000000000000 of site %s environment %s (completed 2026-05-02 03:12:44 CEST, 1.2 GiB)"
	globexDev := restore.Target{Site: "globex", Environment: "development"}
	acmeProd := restore.Target{Site: "acme", Environment: "production"}
	tests := []struct {
		name     string
		target   restore.Target
		from     restore.Origin
		question string
		refusal  string
	}{
		{"cross-site", globexDev, backup("acme", "production"),
			"Import " + fmt.Sprintf(source, "acme", "production") + "\ninto site globex environment development? This is a cross-site import; it replaces the database of site globex environment development. [y/N] ",
			"importing " + fmt.Sprintf(source, "acme", "production") + " into site globex environment development (cross-site) replaces its database; pass --yes"},
		{"cross-environment", acmeProd, backup("acme", "staging"),
			"Import " + fmt.Sprintf(source, "acme", "staging") + "\ninto site acme environment production? This is a cross-environment import; it replaces the database of site acme environment production. [y/N] ",
			"importing " + fmt.Sprintf(source, "acme", "staging") + " into site acme environment production (cross-environment) replaces its database; pass --yes"},
		{"same environment", acmeProd, backup("acme", "production"),
			"Import " + fmt.Sprintf(source, "acme", "production") + "\ninto site acme environment production? This replaces its database. [y/N] ",
			"importing " + fmt.Sprintf(source, "acme", "production") + " into site acme environment production replaces its database; pass --yes"},
		{"file", acmeProd, restore.Origin{File: "/tmp/dump.sql", Size: 2048},
			"Import file /tmp/dump.sql (2 KiB)\ninto site acme environment production? This replaces its database. [y/N] ",
			"importing file /tmp/dump.sql (2 KiB) into site acme environment production replaces its database; pass --yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := restore.Confirm(strings.NewReader("n\n"), &out, true, false, tt.target, tt.from); !errors.Is(err, restore.ErrNotConfirmed) {
				t.Errorf("Confirm(n) = %v, want ErrNotConfirmed", err)
			}
			if out.String() != tt.question {
				t.Errorf("Confirm() asked\n%q\nwant\n%q", out.String(), tt.question)
			}
			out.Reset()
			err := restore.Confirm(strings.NewReader("y\n"), &out, false, false, tt.target, tt.from)
			if !errors.Is(err, restore.ErrNotConfirmed) || !strings.Contains(err.Error(), tt.refusal) || out.Len() != 0 {
				t.Errorf("Confirm() without a terminal = %v (wrote %q), want a refusal with %q", err, out.String(), tt.refusal)
			}
		})
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
		err := restore.Confirm(in, io.Discard, true, false, restore.Target{Site: "a", Environment: "b"}, restore.Origin{})
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
