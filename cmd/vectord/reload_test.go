package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPRotatesTheTokenAndNamesRestartKeys: with the real binary, a
// token rotated in token_file and SIGHUP make the next backup succeed with
// the new token; a changed server.listen is named as needing a restart and
// counted as a failed reload, and the daemon keeps serving where it was.
func TestSIGHUPRotatesTheTokenAndNamesRestartKeys(t *testing.T) {
	e := newE2E(t, e2eOptions{defaults: `schedule: "@every 1h"`, sites: `  - name: globex
    id: "1002"
`})
	tokenFile := filepath.Join(e.dir, "api-token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "  token: "+testToken+"\n", "  token_file: "+tokenFile+"\n", 1)
	if cfg == string(raw) {
		t.Fatal("the test config has no token line to replace")
	}
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	e.waitFor("the start-up backup", 20*time.Second, func() bool { return len(e.apiRecords()) == 1 })

	// The token is regenerated in the dashboard: the old one is refused.
	const rotated = "rotated-token-7c41d9"
	e.sim.SetToken(rotated)
	if err := os.WriteFile(tokenFile, []byte(rotated+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	e.waitFor("the reload", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "configuration reloaded")
	})
	if code, out, errs := e.cli("backup", "--site", "globex"); code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("backup after rotating the token = %d %q %q, want success", code, out, errs)
	}

	// server.listen and log.format change only at a restart.
	cfg2 := strings.Replace(cfg, "listen: "+e.listen, "listen: 127.0.0.1:1", 1) + "log:\n  format: json\n"
	if err := os.WriteFile(e.cfg, []byte(cfg2), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	e.waitFor("the restart-only keys named", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "server.listen") && strings.Contains(p.stderr.String(), "log.format")
	})
	metrics := scrape("http://" + e.listen + "/metrics")
	if !regexp.MustCompile(`(?m)^vectord_config_reloads_total\{outcome="failure"\} 1$`).MatchString(metrics) ||
		!regexp.MustCompile(`(?m)^vectord_config_reloads_total\{outcome="success"\} 1$`).MatchString(metrics) {
		t.Errorf("/metrics reloads: want one success and one failure:\n%s", grepLines(metrics, "vectord_config_reloads_total"))
	}
	if strings.Contains(p.stderr.String(), rotated) || strings.Contains(p.stderr.String(), testToken) {
		t.Error("a token reached the log")
	}
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit = %d", code)
	}
	if code, out, errs := e.cli("check", "--read-data"); code != 0 {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
