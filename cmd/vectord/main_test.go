package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/vectorsim"
)

const testToken = "cli-test-token-5b1d"

// fixture is a configuration pointing at a simulated API, in a temp dir.
type fixture struct {
	t     *testing.T
	sim   *vectorsim.Server
	dir   string
	cfg   string
	plain []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	body := vectorsim.Dump("cli", 200<<10, vectorsim.MariaDB)
	plain := make([]byte, body.Size())
	if _, err := body.ReadAt(plain, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	sim := vectorsim.New(vectorsim.Options{Token: testToken, Backend: fixedBackend{body}, TempDir: dir})
	sim.AddSite("1001", "2001", "2002")
	sim.AddSite("1002")
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, sim: sim, dir: dir, cfg: filepath.Join(dir, "config.yaml"), plain: plain}
	f.writeConfig(fmt.Sprintf(`api:
  base_url: %s/api/v1/vector
  token_file: api-token
  poll_interval: 5ms
  poll_max_interval: 20ms
  requests_per_minute: 6000
  db_operations_per_hour: 1000
state_dir: state
storage:
  local:
    path: backups
sites:
  - name: acme
    id: "1001"
    environments:
      - name: production
        id: "2001"
      - name: staging
        id: "2002"
  - name: globex
    id: "1002"
`, srv.URL))
	if err := os.WriteFile(filepath.Join(dir, "api-token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) writeConfig(s string) {
	f.t.Helper()
	if err := os.WriteFile(f.cfg, []byte(s), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// vectord runs one command line in-process.
func (f *fixture) vectord(args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "VECTORD_CONFIG" {
			return f.cfg
		}
		return ""
	}}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func (f *fixture) listJSON(args ...string) []map[string]any {
	f.t.Helper()
	code, out, errs := f.vectord(append([]string{"list", "--json"}, args...)...)
	if code != 0 {
		f.t.Fatalf("list --json = %d: %s", code, errs)
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		f.t.Fatalf("list --json printed %q: %v", out, err)
	}
	return recs
}

func TestBackupListCatVerify(t *testing.T) {
	f := newFixture(t)
	code, out, errs := f.vectord("backup", "--site", "globex", "--reason", "before plugin update")
	if code != 0 {
		t.Fatalf("backup = %d, stderr %q", code, errs)
	}
	id := strings.TrimSpace(out)
	if errs != "" {
		t.Errorf("backup without a terminal printed to stderr: %q", errs)
	}

	recs := f.listJSON()
	if len(recs) != 1 || recs[0]["id"] != id {
		t.Fatalf("list --json = %v, want the one backup %s", recs, id)
	}
	var keys []string
	for k := range recs[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"completed_at", "compression", "encrypted", "environment", "environment_id", "export_id", "id", "locations",
		"pinned", "platform_backup_id", "reason", "recipients", "sha256", "site", "site_id", "size_bytes", "source", "started_at",
		"stored_bytes", "trigger", "verified_at"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("record fields = %v, want CONTRACT §4's %v", keys, want)
	}
	if recs[0]["environment"] != "development" || recs[0]["trigger"] != "manual" || recs[0]["reason"] != "before plugin update" {
		t.Errorf("record = %v", recs[0])
	}

	code, sql, errs := f.vectord("cat", id)
	if code != 0 || sql != string(f.plain) {
		t.Fatalf("cat = %d (%d bytes, stderr %q), want the %d bytes of the export", code, len(sql), errs, len(f.plain))
	}
	sum := sha256.Sum256(f.plain)
	if recs[0]["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 = %v, want %x", recs[0]["sha256"], sum)
	}
	if code, out, errs := f.vectord("verify"); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("verify = %d %q %q", code, out, errs)
	}
	if code, out, _ := f.vectord("list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "globex") {
		t.Errorf("list = %d %q", code, out)
	}
	if recs := f.listJSON("--site", "acme"); len(recs) != 0 {
		t.Errorf("list --site acme = %v, want none", recs)
	}
}

func TestCorruptBackupFailsCatAndVerify(t *testing.T) {
	f := newFixture(t)
	_, out, _ := f.vectord("backup", "--site", "globex")
	id := strings.TrimSpace(out)
	recs := f.listJSON()
	uri := recs[0]["locations"].([]any)[0].(map[string]any)["uri"].(string)
	path := strings.TrimPrefix(uri, "file://")
	// Replace the stored file with a valid zstd stream of different SQL.
	if err := os.WriteFile(path, zstdOf(t, bytes.Replace(f.plain, []byte("INSERT"), []byte("insert"), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := f.vectord("cat", id)
	if code != 1 || !strings.Contains(errs, "corrupt") {
		t.Errorf("cat of a corrupted backup = %d %q, want 1 naming the corruption", code, errs)
	}
	code, out, errs = f.vectord("verify", id)
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(errs, "1 of 1 backups failed") {
		t.Errorf("verify of a corrupted backup = %d %q %q, want 1 with FAIL and 1 of 1 failed", code, out, errs)
	}
}

func TestFailedExportExitsOneWithAPIMessage(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFaults("", vectorsim.Faults{FailExport: "Database export failed: disk quota exceeded"})
	code, out, errs := f.vectord("backup", "--site", "acme", "--env", "production")
	if code != 1 {
		t.Fatalf("backup = %d, want 1", code)
	}
	if out != "" || !strings.Contains(errs, "disk quota exceeded") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("stdout %q stderr %q, want one stderr line with the API's message", out, errs)
	}
	if strings.Contains(errs, testToken) {
		t.Error("the API token reached stderr")
	}
	if recs := f.listJSON(); len(recs) != 0 {
		t.Errorf("catalog after a failed export = %v, want empty", recs)
	}
	var files []string
	filepath.Walk(filepath.Join(f.dir, "backups"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files after a failed export: %v", files)
	}
}

func TestUsageAndConfigErrorsExitTwo(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"missing site", []string{"backup"}, "--site is required"},
		{"unknown site", []string{"backup", "--site", "nope"}, "nope"},
		{"ambiguous environment", []string{"backup", "--site", "acme"}, "production"},
		{"unknown flag", []string{"list", "--bogus"}, "bogus"},
		{"cat without id", []string{"cat"}, "exactly one"},
		{"missing config", []string{"list", "--config", filepath.Join(f.dir, "missing.yaml")}, "missing.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := f.vectord(tc.args...)
			if code != 2 || !strings.Contains(errs, tc.wantErr) {
				t.Errorf("vectord %v = %d %q, want 2 mentioning %q", tc.args, code, errs, tc.wantErr)
			}
		})
	}
}

func TestBadConfigNamesKeyAndLine(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("api:\n  token: x\n  timeout: 30 seconds\nsites:\n  - name: acme\n    id: \"1\"\n")
	code, _, errs := f.vectord("config", "check")
	if code != 2 || !strings.Contains(errs, "api.timeout") || !strings.Contains(errs, "line 3") {
		t.Errorf("config check = %d %q, want 2 naming api.timeout and line 3", code, errs)
	}
}

func TestConfigCheckPrintsNextRuns(t *testing.T) {
	f := newFixture(t)
	code, out, errs := f.vectord("config", "check")
	if code != 0 {
		t.Fatalf("config check = %d %q", code, errs)
	}
	for _, want := range []string{"acme", "production", "staging", "globex", "0 2 * * *"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
	// Three run times per environment: each line has three dates.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "acme ") && strings.Count(line, "UTC") != 4 { // zone column + 3 runs
			t.Errorf("line %q does not show three next runs", line)
		}
	}
}

func TestVersion(t *testing.T) {
	f := newFixture(t)
	code, out, _ := f.vectord("version")
	if code != 0 || !strings.Contains(out, "vectord") || !strings.Contains(out, "go1.") {
		t.Errorf("version = %d %q", code, out)
	}
}

func TestDemo(t *testing.T) {
	f := newFixture(t)
	code, out, errs := f.vectord("demo", "--dump-size", "300000", "--duration", "5s")
	if code != 0 {
		t.Fatalf("demo = %d: %s", code, errs)
	}
	// Each of the three environments is backed up by the daemon at least
	// twice, retention keeps two of each, and the metrics show it.
	backups := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[3] == "schedule" && f[4] == "backup" {
			backups[f[1]+"/"+f[2]]++
		}
	}
	for _, env := range []string{"acme/development", "acme/production", "globex/development"} {
		if backups[env] < 2 {
			t.Errorf("demo backed up %s %d times, want ≥ 2:\n%s", env, backups[env], out)
		}
	}
	for _, want := range []string{"every backup verified", `vectord_backups_stored{environment="production",site="acme",target="local"} 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

type fixedBackend struct{ body vectorsim.Body }

func (b fixedBackend) Export(ctx context.Context, siteID, envID string) (vectorsim.Body, error) {
	return b.body, nil
}

func (b fixedBackend) Import(ctx context.Context, siteID, envID string, sql io.Reader) error {
	_, err := io.Copy(io.Discard, sql)
	return err
}

func zstdOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, codec.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRetentionAfterBackupAndPrune(t *testing.T) {
	f := newFixture(t)
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(strings.Replace(string(cfg), "sites:\n", `defaults:
  retention: {keep_last: 2, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}
sites:
`, 1))
	var ids []string
	for range 3 {
		code, out, errs := f.vectord("backup", "--site", "globex")
		if code != 0 {
			t.Fatalf("backup = %d %s", code, errs)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	recs := f.listJSON()
	if len(recs) != 2 || recs[0]["id"] != ids[2] || recs[1]["id"] != ids[1] {
		t.Fatalf("after 3 backups with keep_last 2: %v, want the two newest %v", recs, ids[1:])
	}
	var stored []string
	filepath.Walk(filepath.Join(f.dir, "backups"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			stored = append(stored, filepath.Base(p))
		}
		return nil
	})
	if len(stored) != 4 { // two backups, two manifests
		t.Errorf("stored files = %v, want 2 backups and their manifests", stored)
	}
	code, out, errs := f.vectord("prune", "--dry-run")
	if code != 0 || strings.Count(out, "keep") != 2 || !strings.Contains(out, "last") {
		t.Errorf("prune --dry-run = %d %q %q, want two kept by keep_last", code, out, errs)
	}
	code, out, _ = f.vectord("prune", "--json")
	var decisions []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &decisions) != nil || len(decisions) != 2 {
		t.Errorf("prune --json = %d %q", code, out)
	}
}

func TestRestoreAndImport(t *testing.T) {
	f := newFixture(t)
	_, out, _ := f.vectord("backup", "--site", "acme", "--env", "production")
	id := strings.TrimSpace(out)
	dev := vectorsim.EnvKey{Site: "1002"}

	code, _, errs := f.vectord("restore", id, "--site", "globex")
	if code != 2 || !strings.Contains(errs, "--yes") {
		t.Fatalf("restore without --yes and without a terminal = %d %q, want 2 naming --yes", code, errs)
	}
	if n := f.sim.Stats().Imports[dev].Count; n != 0 {
		t.Fatalf("an unconfirmed restore imported %d times", n)
	}

	code, out, errs = f.vectord("restore", id, "--site", "globex", "--yes")
	if code != 0 || !strings.Contains(out, "pre-import snapshot") {
		t.Fatalf("restore = %d %q %q", code, out, errs)
	}
	imp := f.sim.Stats().Imports[dev]
	sum := sha256.Sum256(f.plain)
	if imp.Count != 1 || imp.LastSHA256 != hex.EncodeToString(sum[:]) || imp.LastSize != int64(len(f.plain)) {
		t.Errorf("simulator imported %+v, want the backup's %d bytes", imp, len(f.plain))
	}
	var preImport int
	for _, r := range f.listJSON("--site", "globex") {
		if r["trigger"] == "pre-import" {
			preImport++
		}
	}
	if preImport != 1 {
		t.Errorf("pre-import snapshots of globex = %d, want 1", preImport)
	}

	sqlFile := filepath.Join(f.dir, "dump.sql")
	if err := os.WriteFile(sqlFile, f.plain, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = f.vectord("import", sqlFile, "--site", "globex", "--yes", "--no-snapshot")
	if code != 0 || strings.Contains(out, "snapshot") {
		t.Fatalf("import --no-snapshot = %d %q %q", code, out, errs)
	}
	if n := f.sim.Stats().Imports[dev].Count; n != 2 {
		t.Errorf("imports = %d, want 2", n)
	}

	// A failed snapshot stops the import before it starts.
	f.sim.SetFaults("1002", vectorsim.Faults{FailExport: "export broke"})
	code, _, errs = f.vectord("import", sqlFile, "--site", "globex", "--yes")
	if code != 1 || !strings.Contains(errs, "not started") {
		t.Errorf("import with a failing snapshot = %d %q, want 1 saying the import was not started", code, errs)
	}
	if n := f.sim.Stats().Imports[dev].Count; n != 2 {
		t.Errorf("imports after a failed snapshot = %d, want still 2", n)
	}
}

func TestConfigCheckWarnsOfBudgetPressure(t *testing.T) {
	f := newFixture(t)
	var sites strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&sites, "  - {name: s%d, id: \"%d\"}\n", i, i)
	}
	f.writeConfig("api:\n  token: x\ndefaults:\n  schedule: \"0 2 * * *\"\n  jitter: 0s\nsites:\n" + sites.String())
	code, out, errs := f.vectord("config", "check")
	if code != 0 {
		t.Fatalf("config check = %d %s", code, errs)
	}
	if !strings.Contains(out, "12 exports due") || !strings.Contains(out, "03:01") {
		t.Errorf("config check does not warn that 12 nightly exports exceed 10 an hour, last at 03:01:\n%s", out)
	}
	f.writeConfig("api:\n  token: x\ndefaults:\n  schedule: \"0 2 * * *\"\nsites:\n  - {name: one, id: \"1\"}\n")
	if _, out, _ := f.vectord("config", "check"); !strings.Contains(out, "fit in 10") {
		t.Errorf("config check of one site:\n%s", out)
	}
}

func TestCatalogRebuild(t *testing.T) {
	f := newFixture(t)
	for _, site := range []string{"globex", "globex"} {
		if code, _, errs := f.vectord("backup", "--site", site); code != 0 {
			t.Fatal(errs)
		}
	}
	if code, _, errs := f.vectord("backup", "--site", "acme", "--env", "staging"); code != 0 {
		t.Fatal(errs)
	}
	_, before, _ := f.vectord("list", "--json")
	db := filepath.Join(f.dir, "state", "catalog.db")

	// A lost catalog.
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	code, out, errs := f.vectord("catalog", "rebuild")
	if code != 0 || !strings.Contains(out, "3 added") {
		t.Fatalf("catalog rebuild = %d %q %q", code, out, errs)
	}
	if _, after, _ := f.vectord("list", "--json"); after != before {
		t.Errorf("list --json after rebuild differs:\nbefore %s\nafter  %s", before, after)
	}
	// Idempotent.
	if code, out, _ := f.vectord("catalog", "rebuild"); code != 0 || !strings.Contains(out, "0 added, 3 already present") {
		t.Errorf("second rebuild = %d %q", code, out)
	}
	// A corrupt catalog is moved aside and rebuilt.
	if err := os.WriteFile(db, []byte("not a bbolt file at all, just damage"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = f.vectord("catalog", "rebuild")
	if code != 0 || !strings.Contains(out, "moved it to") || !strings.Contains(out, "3 added") {
		t.Fatalf("rebuild of a corrupt catalog = %d %q %q", code, out, errs)
	}
	if _, after, _ := f.vectord("list", "--json"); after != before {
		t.Errorf("list --json after rebuilding a corrupt catalog differs")
	}
}

func TestReadingCommandsOnAFreshInstall(t *testing.T) {
	f := newFixture(t)
	if code, out, errs := f.vectord("list", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json before any backup = %d %q %q, want [] and 0", code, out, errs)
	}
	if code, out, errs := f.vectord("verify"); code != 1 || !strings.Contains(errs, "holds no backups") || out != "" {
		t.Errorf("verify before any backup = %d %q %q, want 1 saying nothing was verified", code, out, errs)
	}
	if code, out, errs := f.vectord("verify", "01m8hr51k1vgtp28yk26019b1b"); code != 1 || !strings.Contains(errs, "no backup with id") || strings.Contains(out, "FAIL") {
		t.Errorf("verify of an unknown id = %d %q %q, want 1 naming the unknown id, not a failed verification", code, out, errs)
	}
	if code, _, errs := f.vectord("cat", "01m8hr51k1vgtp28yk26019b1b"); code != 1 || !strings.Contains(errs, "no backup with id") {
		t.Errorf("cat of an unknown id = %d %q", code, errs)
	}
}

// TestBackupWithoutDaemonSpendsTheLedgersBudget: a backup command run
// without a daemon spends from the catalog's ledger, so a second one in
// the same hour with db_operations_per_hour: 1 waits — saying so on
// stderr — instead of sending an export the API would refuse.
func TestBackupWithoutDaemonSpendsTheLedgersBudget(t *testing.T) {
	f := newFixture(t)
	raw, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(strings.Replace(string(raw), "db_operations_per_hour: 1000", "db_operations_per_hour: 1", 1))
	if code, _, errs := f.vectord("backup", "--site", "globex"); code != 0 {
		t.Fatalf("first backup = %d %q", code, errs)
	}
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "VECTORD_CONFIG" {
			return f.cfg
		}
		return ""
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	code := m.Run(ctx, []string{"backup", "--site", "globex"})
	if code == 0 || !strings.Contains(errb.String(), "waiting for API budget until") {
		t.Errorf("second backup within the hour = %d, stderr %q; want it to wait, saying until when", code, errb.String())
	}
	if n := f.sim.Stats().DBOperations; n != 1 {
		t.Errorf("the API saw %d database operations, want 1", n)
	}
}

// TestStatusWithoutDaemon: status reads the catalog and the ledger: the
// last success and its age, the backups per target, the budget left.
func TestStatusWithoutDaemon(t *testing.T) {
	f := newFixture(t)
	if code, out, errs := f.vectord("status", "--json"); code != 0 || !strings.Contains(out, `"environments"`) {
		t.Fatalf("status on a fresh install = %d %q %q", code, out, errs)
	}
	if code, _, errs := f.vectord("backup", "--site", "globex"); code != 0 {
		t.Fatalf("backup = %d %q", code, errs)
	}
	code, out, errs := f.vectord("status", "--json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status --json = %d %q %q", code, out, errs)
	}
	found := false
	for _, e := range rep.Environments {
		if e.Site != "globex" {
			continue
		}
		found = true
		if e.LastSuccess == nil || e.Overdue || e.Targets["local"].Backups != 1 || e.Targets["local"].Bytes <= 0 || e.NextRun == nil {
			t.Errorf("globex status = %+v, want one local backup, a recent success and a next run", e)
		}
	}
	if !found || rep.Daemon || rep.Budget.PerHour != 1000 || rep.Budget.Remaining < 1 {
		t.Errorf("status = %+v, want globex, no daemon, the budget", rep)
	}
	if code, out, _ := f.vectord("status"); code != 0 || !strings.Contains(out, "globex/development") || !strings.Contains(out, "local:1/") {
		t.Errorf("status = %d %q", code, out)
	}
}

// TestLostCatalogIsNotReplacedSilently: with catalog.db deleted while the
// backups' manifests lie in storage, commands refuse to start fresh and
// name the command that rebuilds it; catalog rebuild brings every backup
// back, and check finds nothing.
func TestLostCatalogIsNotReplacedSilently(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		if code, _, errs := f.vectord("backup", "--site", "globex"); code != 0 {
			t.Fatalf("backup = %d %q", code, errs)
		}
	}
	before := f.listJSON()
	if err := os.Remove(filepath.Join(f.dir, "state", "catalog.db")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"backup", "--site", "globex"}, {"prune"}} {
		code, _, errs := f.vectord(args...)
		if code == 0 || !strings.Contains(errs, "catalog rebuild") || !strings.Contains(errs, "lost") {
			t.Errorf("%v with the catalog lost = %d %q, want a refusal naming catalog rebuild", args, code, errs)
		}
	}
	if code, out, errs := f.vectord("catalog", "rebuild"); code != 0 || !strings.Contains(out, "2 added") {
		t.Fatalf("catalog rebuild = %d %q %q", code, out, errs)
	}
	if after := f.listJSON(); len(after) != len(before) || after[0]["id"] != before[0]["id"] {
		t.Errorf("after rebuild: %d backups, want the %d from before", len(after), len(before))
	}
	if code, out, errs := f.vectord("check", "--read-data"); code != 0 {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
	if n := f.sim.Stats().DBOperations; n != 2 {
		t.Errorf("database operations = %d, want 2: a refused backup must not export", n)
	}
}
