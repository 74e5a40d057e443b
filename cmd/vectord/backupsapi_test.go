package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// TestProductionThroughTheBackupsAPI: under api.routes: openapi a
// production database is backed up through a platform backup (its id in
// the record), cat gives exactly the SQL inside the archive; a mirrored
// environment stores the two backups the platform took and, the next time,
// nothing new, spending no database operation; check finds nothing.
func TestProductionThroughTheBackupsAPI(t *testing.T) {
	for _, routes := range []string{"openapi", "documented"} {
		t.Run(routes, func(t *testing.T) { productionThroughTheBackupsAPI(t, routes) })
	}
}

func productionThroughTheBackupsAPI(t *testing.T, routes string) {
	f := newFixture(t)
	raw, _ := os.ReadFile(f.cfg)
	cfg := strings.Replace(string(raw), "  token_file: api-token\n", "  token_file: api-token\n  routes: "+routes+"\n", 1)
	if routes == "documented" { // the default there is export
		cfg = strings.Replace(cfg, "        id: \"2001\"\n", "        id: \"2001\"\n        source: backup\n", 1)
	}
	cfg = strings.Replace(cfg, "        id: \"2002\"\n", "        id: \"2002\"\n        source: mirror\n", 1)
	f.writeConfig(cfg)

	code, out, errs := f.vectord("backup", "--site", "acme", "--env", "production")
	if code != 0 {
		t.Fatalf("backup of production = %d %q", code, errs)
	}
	id := strings.TrimSpace(out)
	rec := f.listJSON("--site", "acme", "--env", "production")
	if len(rec) != 1 || rec[0]["id"] != id || rec[0]["source"] != "backup" || rec[0]["platform_backup_id"] == "" {
		t.Fatalf("record = %v, want source backup with its platform backup id", rec)
	}
	if code, sql, errs := f.vectord("cat", id); code != 0 || sql != string(f.plain) {
		t.Errorf("cat = %d (%d bytes, want %d) %q", code, len(sql), len(f.plain), errs)
	}
	ops := f.sim.Stats().DBOperations
	if ops != 1 {
		t.Errorf("database operations = %d, want 1 (the backup's creation)", ops)
	}

	first := f.sim.AddPlatformBackup("1001", "2002", "database")
	second := f.sim.AddPlatformBackup("1001", "2002", "full")
	if code, _, errs := f.vectord("backup", "--site", "acme", "--env", "staging"); code != 0 {
		t.Fatalf("mirror = %d %q", code, errs)
	}
	got := map[string]bool{}
	for _, r := range f.listJSON("--site", "acme", "--env", "staging") {
		if r["source"] != "mirror" {
			t.Errorf("mirrored record source = %v", r["source"])
		}
		got[r["platform_backup_id"].(string)] = true
	}
	if len(got) != 2 || !got[first] || !got[second] {
		t.Fatalf("mirrored platform backups = %v, want %s and %s", got, first, second)
	}
	if code, _, errs := f.vectord("backup", "--site", "acme", "--env", "staging"); code != 0 || !strings.Contains(errs, "no platform backup that is not stored already") {
		t.Errorf("second mirror run = %d %q, want nothing new", code, errs)
	}
	if n := len(f.listJSON("--site", "acme", "--env", "staging")); n != 2 {
		t.Errorf("after the second run %d mirrored backups, want 2", n)
	}
	if n := f.sim.Stats().DBOperations; n != ops {
		t.Errorf("mirroring spent %d database operations", n-ops)
	}
	if code, out, errs := f.vectord("check", "--read-data"); code != 0 {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
}

// TestKilledWhileThePlatformBackupIsMade: SIGKILL while the platform
// backup is being made; the restarted daemon polls the same backup and
// stores it: one backup creation at the API.
func TestKilledWhileThePlatformBackupIsMade(t *testing.T) {
	e := newE2E(t, e2eOptions{
		sim:      vectorsim.Options{ProcessingTime: 2 * time.Second},
		defaults: `schedule: "@every 1h"`,
		sites: `  - name: acme
    id: "1001"
    environments:
      - name: production
        id: "2001"
        source: backup
`,
	})
	p := e.start()
	key := vectorsim.EnvKey{Site: "1001", Env: "2001"}
	e.waitFor("the backup's creation", 15*time.Second, func() bool { return e.sim.Stats().BackupRequests[key] == 1 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p = e.start()
	e.waitFor("the backup stored", 30*time.Second, func() bool { return len(e.apiRecords()) == 1 })
	if n := e.sim.Stats().BackupRequests[key]; n != 1 {
		t.Errorf("backup creations = %d, want 1: the restart must poll the backup it had requested", n)
	}
	if r := e.apiRecords()[0]; r.Source != "backup" || r.PlatformBackupID == "" {
		t.Errorf("record = %+v", r)
	}
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit = %d", code)
	}
	e.assertInvariants()
}
