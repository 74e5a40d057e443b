package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got; go test -update rewrites it):\n%s", t.Name(), path, diff)
	}
}

// run runs one command line in-process with no configuration around:
// help, usage and completion need none.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "VECTORD_CONFIG" {
			return "/nonexistent/vectord-test/config.yaml"
		}
		return ""
	}}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// TestHelpOfEveryCommand: --help and -h on every command print its usage
// line (its arguments and flags), what it does and its flags on stdout,
// and exit 0, without reading a configuration.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run(c.name, "--help")
			if code != 0 || errs != "" {
				t.Fatalf("vectord %s --help = %d, stderr %q; want 0 and nothing on stderr", c.name, code, errs)
			}
			if !strings.HasPrefix(out, "Usage: vectord "+c.name) {
				t.Errorf("vectord %s --help starts %q, want the usage line", c.name, out)
			}
			for _, d := range c.flags {
				if !strings.Contains(out, d.dashed()) {
					t.Errorf("vectord %s --help does not list %s:\n%s", c.name, d.dashed(), out)
				}
			}
			if got := strings.Contains(out, "--config PATH"); got != c.config {
				t.Errorf("vectord %s --help lists --config: %v, want %v:\n%s", c.name, got, c.config, out)
			}
			golden(t, filepath.Join("help", c.name+".txt"), out)
			for _, args := range [][]string{{c.name, "-h"}, {c.name, "-help"}, {"help", c.name}} {
				if code, again, errs := run(args...); code != 0 || again != out || errs != "" {
					t.Errorf("vectord %s = %d %q %q, want the same help as --help", strings.Join(args, " "), code, again, errs)
				}
			}
		})
	}
}

// TestUsageLines: the usage lines name the arguments and flags.
func TestUsageLines(t *testing.T) {
	for _, tt := range []struct{ cmd, want string }{
		{"cat", "Usage: vectord cat ID [--config PATH]\n"},
		{"catalog", "Usage: vectord catalog rebuild [--config PATH]\n"},
		{"config", "Usage: vectord config check [--online] [--strict] [--config PATH]\n"},
		{"forget", "Usage: vectord forget ID... [--config PATH]\n"},
		{"pin", "Usage: vectord pin ID [--unpin] [--config PATH]\n"},
		{"restore", "Usage: vectord restore ID --site S [--env E] [--yes] [--no-snapshot] [--reason TEXT] [-v] [--config PATH]\n"},
		{"import", "Usage: vectord import FILE --site S [--env E] "},
		{"check", "Usage: vectord check [--repair] [--json] [--read-data] [--config PATH]\n"},
		{"status", "Usage: vectord status [--json] [--config PATH]\n"},
		{"backup", "Usage: vectord backup --site S [--env E] [--reason TEXT] [-v] [--config PATH]\n"},
		{"verify", "Usage: vectord verify [ID...] [--config PATH]\n"},
		{"completion", "Usage: vectord completion bash|zsh|fish\n"},
		{"demo", "Usage: vectord demo [--keep] [--dump-size N] [--duration D] [-v]\n"},
		{"version", "Usage: vectord version\n"},
	} {
		if _, out, _ := run(tt.cmd, "--help"); !strings.HasPrefix(out, tt.want) {
			t.Errorf("vectord %s --help = %q, want it to start %q", tt.cmd, out, tt.want)
		}
	}
	// Subcommand words first, then --help, as people type it.
	if code, out, _ := run("config", "check", "--help"); code != 0 || !strings.HasPrefix(out, "Usage: vectord config check") {
		t.Errorf("vectord config check --help = %d %q", code, out)
	}
}

// TestCommandsWithoutConfigTakeNoConfigFlag: demo and version read no
// configuration; their help shows no --config and they refuse one.
func TestCommandsWithoutConfigTakeNoConfigFlag(t *testing.T) {
	for _, name := range []string{"demo", "version", "completion", "man", "help"} {
		if _, out, _ := run(name, "--help"); strings.Contains(out, "-config") {
			t.Errorf("vectord %s --help mentions a config flag:\n%s", name, out)
		}
		code, out, errs := run(name, "--config", "x.yaml")
		want := "vectord " + name + ": flag provided but not defined: -config (see vectord " + name + " --help)\n"
		if code != 2 || errs != want || out != "" {
			t.Errorf("vectord %s --config x.yaml = %d %q %q, want 2 and %q", name, code, out, errs, want)
		}
	}
}

// TestTopLevelUsage: vectord --help, -h and help print the command list
// on stdout and exit 0; vectord alone prints it on stderr and exits 2.
func TestTopLevelUsage(t *testing.T) {
	code, usage, errs := run("--help")
	if code != 0 || errs != "" || !strings.HasPrefix(usage, "Usage: vectord COMMAND") {
		t.Fatalf("vectord --help = %d %q %q, want the command list on stdout", code, usage, errs)
	}
	for _, c := range commands() {
		if !strings.Contains(usage, "\n  "+c.name+" ") {
			t.Errorf("vectord --help does not list %s", c.name)
		}
	}
	golden(t, "usage.txt", usage)
	for _, args := range [][]string{{"-h"}, {"help"}, {"-help"}} {
		if code, out, errs := run(args...); code != 0 || out != usage || errs != "" {
			t.Errorf("vectord %v = %d %q %q, want the command list on stdout and 0", args, code, out, errs)
		}
	}
	if code, out, errs := run(); code != 2 || out != "" || errs != usage {
		t.Errorf("vectord = %d %q %q, want the command list on stderr and 2", code, out, errs)
	}
	if code, out, errs := run("help", "frobnicate"); code != 2 || out != "" || !strings.Contains(errs, "unknown command") {
		t.Errorf("vectord help frobnicate = %d %q %q, want 2", code, out, errs)
	}
}

func TestVersionFlag(t *testing.T) {
	_, want, _ := run("version")
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		if code, out, errs := run(args...); code != 0 || out != want || errs != "" {
			t.Errorf("vectord %v = %d %q %q, want what vectord version prints: %q", args, code, out, errs, want)
		}
	}
	if code, _, errs := run("version", "extra"); code != 2 || !strings.Contains(errs, "no arguments") {
		t.Errorf("vectord version extra = %d %q, want 2", code, errs)
	}
}

// TestBadFlagIsOneLine: a flag a command does not take is one line on
// stderr naming the command and where its help is, and exit 2 — not the
// usage and the error twice.
func TestBadFlagIsOneLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cat", "-x"}, "vectord cat: flag provided but not defined: -x (see vectord cat --help)\n"},
		{[]string{"list", "--bogus"}, "vectord list: flag provided but not defined: -bogus (see vectord list --help)\n"},
		{[]string{"config", "check", "--nope"}, "vectord config: flag provided but not defined: -nope (see vectord config --help)\n"},
		{[]string{"backup", "--site"}, "vectord backup: flag needs an argument: -site (see vectord backup --help)\n"},
		{[]string{"demo", "--duration", "soon"}, "vectord demo: invalid value \"soon\" for flag -duration: parse error (see vectord demo --help)\n"},
		{[]string{"run", "--listen", ":0"}, "vectord run: flag provided but not defined: -listen (see vectord run --help)\n"},
		{[]string{"status", "--yaml"}, "vectord status: flag provided but not defined: -yaml (see vectord status --help)\n"},
	} {
		code, out, errs := run(tt.args...)
		if code != 2 || out != "" || errs != tt.want {
			t.Errorf("vectord %s = %d, stdout %q, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, out, errs, tt.want)
		}
	}
	if code, _, errs := run("--bogus"); code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--bogus") {
		t.Errorf("vectord --bogus = %d %q, want 2 and one line", code, errs)
	}
}

// TestCompletion: the completion scripts come from the command
// definitions: every command and every flag is in each; the bash script
// parses and completes.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := run("completion", shell)
		if code != 0 || errs != "" {
			t.Fatalf("vectord completion %s = %d %q", shell, code, errs)
		}
		for _, c := range commands() {
			if !strings.Contains(out, c.name) {
				t.Errorf("the %s completion lacks the command %s", shell, c.name)
			}
			for _, d := range c.allFlags() {
				if !strings.Contains(out, d.name) {
					t.Errorf("the %s completion lacks %s %s", shell, c.name, d.dashed())
				}
			}
		}
		golden(t, "completion."+shell, out)
	}
	if code, _, errs := run("completion", "tcsh"); code != 2 || !strings.Contains(errs, "bash, zsh or fish") {
		t.Errorf("vectord completion tcsh = %d %q, want 2 naming the shells", code, errs)
	}
	if code, _, _ := run("completion"); code != 2 {
		t.Errorf("vectord completion = %d, want 2", code)
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the bash completion")
	}
	_, script, _ := run("completion", "bash")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "files.sql"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	prog := script + `
comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _vectord; echo "${COMPREPLY[*]}"; }
comp vectord re
comp vectord restore --
comp vectord restore --site ""
comp vectord config ""
comp vectord completion z
comp vectord list --config ` + dir + `/fi
comp vectord import ` + dir + `/fi
comp vectord help ca
`
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, got)
	}
	want := strings.Join([]string{
		"restore",
		"--site --env --yes --no-snapshot --reason --config --help",
		"",
		"check",
		"zsh",
		dir + "/files.sql",
		dir + "/files.sql",
		"cat catalog",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("bash completions (-want +got):\n%s", diff)
	}
}

// TestManPage: vectord man prints the manual page, built from the same
// definitions: every command's usage line and flags; groff reads it
// without a warning.
func TestManPage(t *testing.T) {
	code, page, errs := run("man")
	if code != 0 || errs != "" || !strings.HasPrefix(page, ".TH VECTORD 1") {
		t.Fatalf("vectord man = %d %q %.40q", code, errs, page)
	}
	for _, c := range commands() {
		if !strings.Contains(page, ".SS "+c.name+"\n") {
			t.Errorf("the man page has no section for %s", c.name)
		}
		for _, d := range c.flags {
			if !strings.Contains(page, `\fB`+roff(d.dashed())+`\fR`) {
				t.Errorf("the man page does not list %s %s", c.name, d.dashed())
			}
		}
	}
	golden(t, "vectord.1", page)
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("no groff to read the page")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -man -ww: %v\n%s", err, out)
	}
}
