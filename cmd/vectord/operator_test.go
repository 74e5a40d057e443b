package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// vectordIn is fixture.vectord showing times in loc.
func (f *fixture) vectordIn(loc *time.Location, args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Location: loc, Getenv: func(k string) string {
		if k == "VECTORD_CONFIG" {
			return f.cfg
		}
		return ""
	}}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// testZone is a zone no test host runs in, so that a time shown in UTC or
// in the host's zone cannot pass for it.
var testZone = time.FixedZone("XST", 5*3600+30*60)

func TestHumanAge(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "0s"},
		{0, "0s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{59*time.Minute + 59*time.Second, "59m"},
		{time.Hour, "1h0m"},
		{3*time.Hour + 12*time.Minute + 30*time.Second, "3h12m"},
		{24 * time.Hour, "1d0h"},
		{2*24*time.Hour + 4*time.Hour + 59*time.Minute, "2d4h"},
		{400 * 24 * time.Hour, "400d0h"},
	} {
		if got := humanAge(tt.d); got != tt.want {
			t.Errorf("humanAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestListTable: list shows the completion time in the local zone with
// its abbreviation, the age from completion, and the reason on one line.
func TestListTable(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	recs := []catalog.Record{
		{ID: "01jtbn0e000000000000000000", Site: "acme", Environment: "production", Trigger: "manual",
			StartedAt: now.Add(-3*time.Hour - 14*time.Minute), CompletedAt: now.Add(-3*time.Hour - 12*time.Minute),
			SizeBytes: 1288490189, StoredBytes: 210 << 20, SHA256: strings.Repeat("ab", 32), Reason: "before plugin update\n(ticket 42)"},
		{ID: "01jt6v9c000000000000000000", Site: "globex", Environment: "development", Trigger: "schedule",
			StartedAt: now.Add(-52*time.Hour - time.Minute), CompletedAt: now.Add(-52 * time.Hour),
			SizeBytes: 4096, StoredBytes: 1024, SHA256: strings.Repeat("0f", 32)},
	}
	var out bytes.Buffer
	if err := printList(&out, recs, now, testZone); err != nil {
		t.Fatal(err)
	}
	golden(t, "list.txt", out.String())
}

// TestListShowsCompletionAgeAndReason: the list command's table has AGE
// and REASON, and the completion time in the local zone; --json is the
// records as they were.
func TestListShowsCompletionAgeAndReason(t *testing.T) {
	f := newFixture(t)
	if code, _, errs := f.vectord("backup", "--site", "globex", "--reason", "before the plugin update"); code != 0 {
		t.Fatalf("backup = %d %q", code, errs)
	}
	recs := f.listJSON()
	completed, err := time.Parse(time.RFC3339Nano, recs[0]["completed_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := f.vectordIn(testZone, "list")
	if code != 0 {
		t.Fatalf("list = %d %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("list printed %q, want a header and one backup", out)
	}
	if !regexp.MustCompile(`^ID +SITE +ENVIRONMENT +TRIGGER +COMPLETED +AGE +SIZE +STORED +SHA256 +REASON$`).MatchString(lines[0]) {
		t.Errorf("list header = %q, want AGE and REASON columns", lines[0])
	}
	when := completed.In(testZone).Format("2006-01-02 15:04:05 XST")
	if !strings.Contains(lines[1], when) || !regexp.MustCompile(` [0-9]+s +`).MatchString(lines[1]) ||
		!strings.HasSuffix(lines[1], "before the plugin update") {
		t.Errorf("list row = %q, want completed %s, an age in seconds and the reason", lines[1], when)
	}
}

// TestPruneShowsCompletionTime: prune prints each backup's completion
// time in the local zone; --json keeps started_at and adds completed_at.
func TestPruneShowsCompletionTime(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		if code, _, errs := f.vectord("backup", "--site", "globex"); code != 0 {
			t.Fatalf("backup = %d %q", code, errs)
		}
	}
	recs := f.listJSON()
	code, out, errs := f.vectordIn(testZone, "prune", "--dry-run")
	if code != 0 {
		t.Fatalf("prune --dry-run = %d %q", code, errs)
	}
	for _, r := range recs {
		completed, _ := time.Parse(time.RFC3339Nano, r["completed_at"].(string))
		want := completed.In(testZone).Format("2006-01-02 15:04:05 XST")
		if !strings.Contains(out, r["id"].(string)) || !strings.Contains(out, want) {
			t.Errorf("prune --dry-run = %q, want %s completed %s", out, r["id"], want)
		}
	}
	code, out, _ = f.vectord("prune", "--json")
	var decisions []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &decisions) != nil || len(decisions) != 2 {
		t.Fatalf("prune --json = %d %q", code, out)
	}
	for i, d := range decisions {
		for _, k := range []string{"id", "site", "environment", "started_at", "completed_at", "keep", "reasons", "deleted"} {
			if _, ok := d[k]; !ok {
				t.Errorf("prune --json decision %v lacks %s", d, k)
			}
		}
		if d["completed_at"] != recs[i]["completed_at"] || d["started_at"] != recs[i]["started_at"] {
			t.Errorf("decision %v, want the times of record %v", d, recs[i])
		}
	}
}

// TestRestoreRefusalNamesSourceAndTarget: without a terminal and --yes,
// restore names the backup (id, site/environment, completion, size), the
// target and that it is cross-site; import names the file.
func TestRestoreRefusalNamesSourceAndTarget(t *testing.T) {
	f := newFixture(t)
	_, out, _ := f.vectord("backup", "--site", "acme", "--env", "production")
	id := strings.TrimSpace(out)
	recs := f.listJSON()
	completed, _ := time.Parse(time.RFC3339Nano, recs[0]["completed_at"].(string))
	code, _, errs := f.vectordIn(testZone, "restore", id[:10], "--site", "globex")
	for _, want := range []string{
		"backup " + id + " of site acme environment production",
		"completed " + completed.In(testZone).Format("2006-01-02 15:04:05 XST"),
		"200 KiB",
		"into site globex environment development (cross-site)",
		"--yes",
	} {
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("restore without --yes = %d %q, want 2 saying %q", code, errs, want)
		}
	}
	code, _, errs = f.vectord("restore", id, "--site", "acme", "--env", "staging")
	if code != 2 || !strings.Contains(errs, "into site acme environment staging (cross-environment)") {
		t.Errorf("restore into another environment = %d %q, want it called cross-environment", code, errs)
	}
	sqlFile := filepath.Join(f.dir, "dump.sql")
	if err := os.WriteFile(sqlFile, f.plain, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = f.vectord("import", sqlFile, "--site", "globex")
	if code != 2 || !strings.Contains(errs, "importing file "+sqlFile+" (200 KiB) into site globex environment development replaces") {
		t.Errorf("import without --yes = %d %q, want it to name the file and the target", code, errs)
	}
	if n := f.sim.Stats().DBOperations; n != 1 {
		t.Errorf("database operations = %d, want only the backup's", n)
	}
}

// budgetConfig is a configuration whose 12 sites export every hour, two
// more than db_operations_per_hour allows.
func budgetConfig(schedule string) string {
	var sites strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&sites, "  - {name: s%d, id: \"%d\"}\n", i, i)
	}
	return "api:\n  token: x\ndefaults:\n  schedule: \"" + schedule + "\"\n  jitter: 0s\nsites:\n" + sites.String()
}

// TestConfigCheckBudgetWarningIsShortAndStrict: the over-budget warning is
// a few lines however many hours are over, and --strict makes it exit 1.
func TestConfigCheckBudgetWarningIsShortAndStrict(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(budgetConfig("0 * * * *"))
	code, out, errs := f.vectord("config", "check")
	if code != 0 {
		t.Fatalf("config check = %d %q", code, errs)
	}
	_, warning, _ := strings.Cut(out, "warning:")
	lines := strings.Split(strings.TrimSpace(warning), "\n")
	if len(lines) > 4 || !strings.Contains(lines[0], "over the next 24 hours") || !strings.Contains(warning, "worst:") ||
		!strings.Contains(warning, "12 exports due") || !strings.Contains(warning, "the last one starts at") {
		t.Errorf("config check warning = %d lines:\nwarning:%s\nwant at most 4 with how many hours, the worst and when its last export starts", len(lines), warning)
	}
	code, out2, errs := f.vectord("config", "check", "--strict")
	if code != 1 || out2 != out || !strings.Contains(errs, "--strict") || strings.Count(errs, "\n") != 1 {
		t.Errorf("config check --strict with a warning = %d %q, want 1 and one line", code, errs)
	}
	f.writeConfig("api:\n  token: x\ndefaults:\n  schedule: \"0 2 * * *\"\nsites:\n  - {name: one, id: \"1\"}\n")
	if code, out, errs := f.vectord("config", "check", "--strict"); code != 0 || !strings.Contains(out, "fit in 10") {
		t.Errorf("config check --strict without warnings = %d %q %q, want 0", code, out, errs)
	}
}

// TestConfigCheckOnline: --online asks the API about an export that does
// not exist (no database operation spent) and checks state_dir and
// storage; every failure is one line saying what to do, exit 1.
func TestConfigCheckOnline(t *testing.T) {
	f := newFixture(t)
	code, out, errs := f.vectord("config", "check", "--online")
	if code != 0 || errs != "" {
		t.Fatalf("config check --online = %d %q %q", code, out, errs)
	}
	for _, want := range []string{"ok: api:", "accepts the token", "ok: state_dir", "ok: storage.local.path"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check --online lacks %q:\n%s", want, out)
		}
	}
	if st := f.sim.Stats(); st.DBOperations != 0 {
		t.Errorf("config check --online spent %d database operations", st.DBOperations)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "state")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("config check --online created state_dir (%v); it may only check it can be", err)
	}

	raw, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for _, tt := range []struct {
		name  string
		setup func()
		want  []string
	}{
		{"wrong token", func() {
			os.WriteFile(filepath.Join(f.dir, "api-token"), []byte("not-the-token\n"), 0o600)
		}, []string{"refuses the token (HTTP 401)", "api.token"}},
		{"API unreachable", func() {
			f.writeConfig(regexp.MustCompile(`base_url: \S+`).ReplaceAllString(good, "base_url: http://127.0.0.1:1/api/v1/vector"))
		}, []string{"http://127.0.0.1:1/api/v1/vector does not answer", "api.base_url"}},
		{"state_dir a file", func() {
			os.WriteFile(filepath.Join(f.dir, "state"), []byte("x"), 0o600)
		}, []string{"state_dir " + filepath.Join(f.dir, "state") + " is not a directory"}},
		{"storage under a file", func() {
			os.WriteFile(filepath.Join(f.dir, "file"), []byte("x"), 0o600)
			f.writeConfig(strings.Replace(good, "path: backups", "path: file/backups", 1))
		}, []string{"storage.local.path " + filepath.Join(f.dir, "file", "backups") + " cannot be created", "is not a directory"}},
		{"damaged catalog", func() {
			os.MkdirAll(filepath.Join(f.dir, "state"), 0o700)
			os.WriteFile(filepath.Join(f.dir, "state", "catalog.db"), bytes.Repeat([]byte("damage"), 2000), 0o600)
		}, []string{"catalog.db", "vectord catalog rebuild"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.writeConfig(good)
			os.WriteFile(filepath.Join(f.dir, "api-token"), []byte(testToken+"\n"), 0o600)
			for _, p := range []string{"state", "file"} {
				os.RemoveAll(filepath.Join(f.dir, p))
			}
			tt.setup()
			code, _, errs := f.vectord("config", "check", "--online")
			if code != 1 || strings.Count(errs, "\n") != 1 {
				t.Errorf("config check --online = %d %q, want 1 and one line", code, errs)
			}
			for _, want := range tt.want {
				if !strings.Contains(errs, want) {
					t.Errorf("config check --online said %q, want it to say %q", errs, want)
				}
			}
			if strings.Contains(errs, testToken) {
				t.Error("the token reached stderr")
			}
		})
	}
}

// TestErrorsSayWhatToDo: a missing configuration file names --config and
// VECTORD_CONFIG; a damaged catalog names catalog rebuild; a file another
// user owns names sudo -u vectord.
func TestErrorsSayWhatToDo(t *testing.T) {
	f := newFixture(t)
	missing := filepath.Join(f.dir, "missing.yaml")
	code, _, errs := f.vectord("list", "--config", missing)
	if code != 2 || !strings.Contains(errs, missing) || !strings.Contains(errs, "--config") || !strings.Contains(errs, "VECTORD_CONFIG") ||
		strings.Count(errs, "\n") != 1 {
		t.Errorf("list with a missing config = %d %q, want 2 naming the file, --config and VECTORD_CONFIG on one line", code, errs)
	}
	if code, _, errs := f.vectord("config", "check", "--config", missing); code != 2 || !strings.Contains(errs, "VECTORD_CONFIG") {
		t.Errorf("config check with a missing config = %d %q, want 2 naming VECTORD_CONFIG", code, errs)
	}

	if code, _, errs := f.vectord("backup", "--site", "globex"); code != 0 {
		t.Fatalf("backup = %d %q", code, errs)
	}
	db := filepath.Join(f.dir, "state", "catalog.db")
	if err := os.WriteFile(db, bytes.Repeat([]byte("damage"), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"status"}, {"backup", "--site", "globex"}} {
		code, _, errs := f.vectord(args...)
		if code == 0 || !strings.Contains(errs, "vectord catalog rebuild") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v with a damaged catalog = %d %q, want a failure naming vectord catalog rebuild on one line", args, code, errs)
		}
	}
	if code, out, errs := f.vectord("catalog", "rebuild"); code != 0 || strings.Contains(errs, "catalog rebuild") {
		t.Errorf("catalog rebuild of the damaged catalog = %d %q %q, want it rebuilt without advice to rebuild", code, out, errs)
	}

	// Permission problems are simulated: tests may run as root.
	m := &Main{}
	perm := fmt.Errorf("open catalog %s: %w", db, &fs.PathError{Op: "open", Path: db, Err: fs.ErrPermission})
	got := m.explain([]string{"list", "--site", "acme", "--reason", "it's"}, perm).Error()
	if want := "run vectord as the user that owns " + db + ", for example: sudo -u vectord vectord list --site acme --reason 'it'\\''s'"; !strings.HasSuffix(got, want) {
		t.Errorf("explain(permission denied) = %q, want it to end %q", got, want)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(db, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(db, 0o600)
		if code, _, errs := f.vectord("list"); code == 0 || !strings.Contains(errs, "sudo -u vectord vectord list") {
			t.Errorf("list with an unreadable catalog = %d %q, want sudo -u vectord", code, errs)
		}
	}
}
