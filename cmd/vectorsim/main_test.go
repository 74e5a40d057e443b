package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// firstLines reads the two lines vectorsim prints when it serves: the
// address ("listening on http://127.0.0.1:PORT", which scripts read) and the
// API base URL, for vectord's api.base_url. It returns the API base URL.
func firstLines(t *testing.T, r io.Reader) string {
	t.Helper()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening on ")
	if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want listening on http://127.0.0.1:PORT", line)
	}
	line, err = br.ReadString('\n')
	if err != nil {
		t.Fatalf("read second line: %v", err)
	}
	want := "API base URL: " + addr + "/api/v1/vector (set api.base_url to it, and api.token to the --token value)\n"
	if line != want {
		t.Fatalf("second line = %q, want %q", line, want)
	}
	api, _, _ := strings.Cut(strings.TrimPrefix(line, "API base URL: "), " ")
	return api
}

// export requests an export of site 23456's environment 67890 through the
// API at api (its base URL, as api.base_url takes it) and returns the
// download URL of the completed export.
func export(t *testing.T, api, token string) string {
	t.Helper()
	do := func(method, path string) map[string]any {
		req, _ := http.NewRequest(method, api+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return env.Data
	}
	id, _ := do("POST", "/sites/23456/environments/67890/database/export")["export_id"].(string)
	do("GET", "/sites/23456/environments/67890/database/export/"+id)
	u, _ := do("GET", "/sites/23456/environments/67890/database/export/"+id)["download_url"].(string)
	if u == "" {
		t.Fatal("no download URL after two status queries")
	}
	return u
}

func TestRunServesUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--token", "tok", "--sites", "12345,23456:67890", "--dump-size", "3KiB", "--flavor", "mariadb"}, pw, &stderr)
		pw.Close()
	}()
	api := firstLines(t, pr)
	go io.Copy(io.Discard, pr)
	resp, err := http.Get(export(t, api, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) != 3<<10 || !bytes.HasPrefix(body, []byte("/*M!999999")) {
		t.Errorf("download: %d bytes starting %q, want a 3 KiB MariaDB dump", len(body), body[:min(len(body), 12)])
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d, want 0; stderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func TestRunRefusesBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{}, "--token is required"},
		{"bad size", []string{"--token", "t", "--dump-size", "12XB"}, "--dump-size"},
		{"bad sites", []string{"--token", "t", "--sites", "1,,2"}, "--sites"},
		{"bad flavor", []string{"--token", "t", "--flavor", "oracle"}, "--flavor"},
		{"unknown flag", []string{"--token", "t", "--nope"}, "flag provided but not defined"},
		{"extra argument", []string{"--token", "t", "serve"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2", tt.args, code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestRunFailsWhenItCannotListen(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"--token", "t", "--listen", "256.0.0.1:1"}, io.Discard, &stderr); code != 1 {
		t.Errorf("run = %d, want 1; stderr %s", code, stderr.String())
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"65536", 65536, true},
		{"64KiB", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"10MiB", 10 << 20, true},
		{"1GiB", 1 << 30, true},
		{"10G", 10 << 30, true},
		{"0", 0, true},
		{"", 0, false},
		{"GiB", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5GiB", 0, false},
		{"5TB", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "64KiB", "3G", "x", "9223372036854775807", "1iK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
	})
}

func TestParseSites(t *testing.T) {
	got, err := parseSites("12345, 23456:67890:78901")
	want := []site{{"12345", []string{}}, {"23456", []string{"67890", "78901"}}}
	if err != nil || !slices.EqualFunc(got, want, func(a, b site) bool { return a.id == b.id && slices.Equal(a.envs, b.envs) }) {
		t.Errorf("parseSites = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "1,", "1:", ":2", "1/2", "a b"} {
		if _, err := parseSites(bad); err == nil {
			t.Errorf("parseSites(%q) succeeded", bad)
		}
	}
}

func FuzzParseSites(f *testing.F) {
	for _, s := range []string{"1", "1,2:3", "1:2:3,4", ",", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sites, err := parseSites(s)
		if err != nil {
			return
		}
		for _, st := range sites {
			if st.id == "" || slices.Contains(st.envs, "") {
				t.Fatalf("parseSites(%q) gave an empty id: %v", s, sites)
			}
		}
	})
}

// The real binary: built, started, used with a plain HTTP client, stopped
// with SIGTERM.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "vectorsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--token", "secret", "--sites", "23456:67890", "--dump-size", "100000", "--url-ttl", "2m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	api := firstLines(t, stdout)
	u := export(t, api, "secret")
	if !strings.Contains(u, "X-Amz-Expires=120&") {
		t.Errorf("download URL lacks X-Amz-Expires=120")
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 100000 {
		t.Errorf("downloaded %d bytes, want 100000", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("vectorsim after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("vectorsim did not exit after SIGTERM")
	}
}
