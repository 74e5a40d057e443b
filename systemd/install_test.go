package systemd_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// install runs scripts/install.sh into destdir (never into /) with extra
// environment, returning its combined output.
func install(t testing.TB, destdir string, env ...string) (string, error) {
	t.Helper()
	if destdir == "" {
		t.Fatal("install needs a DESTDIR: the tests never install into /")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "scripts", "install.sh"))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "DESTDIR" && k != "PREFIX" && k != "BINARY" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DESTDIR="+destdir)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fakeBinary writes an executable standing in for vectord.
func fakeBinary(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vectord")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho vectord\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantFile checks a file's mode and, unless want is nil, its content.
func wantFile(t testing.TB, path string, mode fs.FileMode, want []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("installed file: %v", err)
		return
	}
	if fi.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	if want == nil {
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its source:\n%s\nwant:\n%s", path, got, want)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestInstall(t *testing.T) {
	bin := fakeBinary(t)
	unitSrc := readFile(t, unitPath)
	tests := []struct {
		name      string
		prefix    string // "" for the default
		wantBin   string
		wantDoc   string
		wantStart string
	}{
		{"default prefix", "", "/usr/local/bin/vectord", "/usr/local/share/doc/vectord/config.example.yaml", execStart},
		{"custom prefix", "/opt/vectord", "/opt/vectord/bin/vectord", "/opt/vectord/share/doc/vectord/config.example.yaml",
			"/opt/vectord/bin/vectord run --config /etc/vectord/config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			env := []string{"BINARY=" + bin}
			if tt.prefix != "" {
				env = append(env, "PREFIX="+tt.prefix)
			}
			out, err := install(t, dest, env...)
			if err != nil {
				t.Fatalf("install.sh: %v\n%s", err, out)
			}
			wantFile(t, filepath.Join(dest, tt.wantBin), 0o755, readFile(t, bin))
			wantFile(t, filepath.Join(dest, "etc/vectord"), fs.ModeDir|0o700, nil)
			wantFile(t, filepath.Join(dest, "etc/vectord/config.yaml"), 0o600, nil) // TestStarterConfigIsTheExample
			wantFile(t, filepath.Join(dest, "var/lib/vectord"), fs.ModeDir|0o700, nil)
			wantFile(t, filepath.Join(dest, "etc/sysusers.d/vectord.conf"), 0o644, readFile(t, "vectord.sysusers"))
			wantFile(t, filepath.Join(dest, tt.wantDoc), 0o644, readFile(t, "../config.example.yaml"))

			unit := filepath.Join(dest, "etc/systemd/system/vectord.service")
			wantUnit := strings.Replace(string(unitSrc), "\nExecStart="+execStart+"\n", "\nExecStart="+tt.wantStart+"\n", 1)
			wantFile(t, unit, 0o644, []byte(wantUnit))
			if got := parseUnit(t, unit).one(t, "ExecStart"); got != tt.wantStart {
				t.Errorf("installed ExecStart=%s, want %s", got, tt.wantStart)
			}
			if !strings.Contains(out, "systemctl daemon-reload && systemctl enable --now vectord") {
				t.Errorf("install.sh printed no next steps:\n%s", out)
			}
		})
	}
}

// TestInstallKeepsConfig checks that installing again (an upgrade) replaces
// the binary and the unit but never the configuration.
func TestInstallKeepsConfig(t *testing.T) {
	dest := t.TempDir()
	if out, err := install(t, dest, "BINARY="+fakeBinary(t)); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	config := filepath.Join(dest, "etc/vectord/config.yaml")
	edited := []byte("# the operator's own configuration\n")
	if err := os.WriteFile(config, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dest, "etc/systemd/system/vectord.service")
	if err := os.WriteFile(unit, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	newBin := filepath.Join(t.TempDir(), "vectord")
	if err := os.WriteFile(newBin, []byte("#!/bin/sh\necho new\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	out, err := install(t, dest, "BINARY="+newBin)
	if err != nil {
		t.Fatalf("install.sh again: %v\n%s", err, out)
	}
	wantFile(t, config, 0o600, edited)
	wantFile(t, unit, 0o644, readFile(t, unitPath))
	wantFile(t, filepath.Join(dest, "usr/local/bin/vectord"), 0o755, readFile(t, newBin))
	for _, want := range []string{"kept the existing /etc/vectord/config.yaml", "systemctl daemon-reload && systemctl restart vectord"} {
		if !strings.Contains(out, want) {
			t.Errorf("install.sh over an installation printed:\n%s\nwant it to say %q", out, want)
		}
	}
}

func TestInstallRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no binary", []string{"BINARY=" + filepath.Join(t.TempDir(), "missing")}, "run make build first"},
		{"relative prefix", []string{"BINARY=" + fakeBinary(t), "PREFIX=usr/local"}, "PREFIX must be an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			out, err := install(t, dest, tt.env...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("install.sh with %v: %v\n%s\nwant a failure saying %q", tt.env, err, out, tt.want)
			}
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Errorf("a refused install.sh left %d entries in DESTDIR, want none", len(entries))
			}
		})
	}
}
