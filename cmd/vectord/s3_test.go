package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// s3Config returns a storage.s3 section for the S3 server the test script
// started (scripts/s3server.sh), under a prefix of the test's own. Without a
// server the test is skipped, except in CI, where that is a failure.
func s3Config(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv("VECTORD_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(`no S3 server: run eval "$(scripts/s3server.sh start)" first (CI is set, so the S3 tests may not be skipped)`)
		}
		t.Skip(`no S3 server: run eval "$(scripts/s3server.sh start)" to include the S3 tests`)
	}
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf(`  s3:
    endpoint: %s
    region: %s
    bucket: %s
    prefix: cli-%s/
    access_key_id: %s
    secret_access_key: %s
    force_path_style: true
`, endpoint, os.Getenv("VECTORD_S3_REGION"), os.Getenv("VECTORD_S3_BUCKET"), hex.EncodeToString(b),
		os.Getenv("VECTORD_S3_ACCESS_KEY"), os.Getenv("VECTORD_S3_SECRET_KEY"))
}

// withStorage replaces the fixture's storage section.
func (f *fixture) withStorage(storage string) {
	f.t.Helper()
	cfg, err := os.ReadFile(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	s := strings.Replace(string(cfg), "storage:\n  local:\n    path: backups\n", "storage:\n"+storage, 1)
	f.writeConfig(s)
}

func TestBackupToLocalAndS3(t *testing.T) {
	f := newFixture(t)
	f.withStorage("  local:\n    path: backups\n" + s3Config(t))
	code, out, errs := f.vectord("backup", "--site", "globex")
	if code != 0 {
		t.Fatalf("backup = %d %s", code, errs)
	}
	id := strings.TrimSpace(out)
	recs := f.listJSON()
	locs := recs[0]["locations"].([]any)
	if len(locs) != 2 || locs[0].(map[string]any)["target"] != "local" || locs[1].(map[string]any)["target"] != "s3" ||
		!strings.HasPrefix(locs[1].(map[string]any)["uri"].(string), "s3://") {
		t.Fatalf("locations = %v, want local and s3", locs)
	}
	if code, out, _ := f.vectord("verify", id); code != 0 || strings.Count(out, "ok") != 1 {
		t.Fatalf("verify of both copies = %d %q", code, out)
	}
	// The local copy lost: cat reads the S3 copy; verify reports the loss.
	local := strings.TrimPrefix(locs[0].(map[string]any)["uri"].(string), "file://")
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	if code, sql, errs := f.vectord("cat", id); code != 0 || sql != string(f.plain) {
		t.Errorf("cat from S3 = %d (%d bytes) %q", code, len(sql), errs)
	}
	if code, out, _ := f.vectord("verify", id); code != 1 || !strings.Contains(out, "local") {
		t.Errorf("verify with the local copy gone = %d %q, want 1 naming local", code, out)
	}
}

// TestCorruptLocalCopyReadsTheS3Copy: a flipped byte in the local file is
// reported, and cat and restore's source read the intact S3 copy instead.
func TestCorruptLocalCopyReadsTheS3Copy(t *testing.T) {
	f := newFixture(t)
	f.withStorage("  local:\n    path: backups\n" + s3Config(t))
	code, out, errs := f.vectord("backup", "--site", "globex")
	if code != 0 {
		t.Fatalf("backup = %d %s", code, errs)
	}
	id := strings.TrimSpace(out)
	local := strings.TrimPrefix(f.listJSON()[0]["locations"].([]any)[0].(map[string]any)["uri"].(string), "file://")
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, sql, errs := f.vectord("cat", id[:10])
	if code != 0 || sql != string(f.plain) {
		t.Fatalf("cat with a corrupt local copy = %d (%d bytes) %q, want the S3 copy's SQL", code, len(sql), errs)
	}
	if !strings.Contains(errs, "local copy fails its check") {
		t.Errorf("cat did not report the corrupt local copy: %q", errs)
	}
	if code, out, _ := f.vectord("verify", id); code != 1 || !strings.Contains(out, "local") || !strings.Contains(out, "1 of 1") && !strings.Contains(out, "FAIL") {
		t.Errorf("verify with a corrupt local copy = %d %q, want 1 naming local", code, out)
	}
}

func TestBackupToS3Only(t *testing.T) {
	f := newFixture(t)
	cfg, _ := os.ReadFile(f.cfg)
	f.writeConfig(strings.Replace(string(cfg), "sites:\n", "defaults:\n  retention: {keep_last: 2, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}\nsites:\n", 1))
	f.withStorage(s3Config(t))
	var ids []string
	for range 3 {
		code, out, errs := f.vectord("backup", "--site", "globex")
		if code != 0 {
			t.Fatalf("backup = %d %s", code, errs)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	recs := f.listJSON()
	if len(recs) != 2 {
		t.Fatalf("S3-only backups after keep_last 2 = %d, want 2", len(recs))
	}
	for _, r := range recs {
		locs := r["locations"].([]any)
		if len(locs) != 1 || locs[0].(map[string]any)["target"] != "s3" {
			t.Errorf("locations = %v, want s3 only", locs)
		}
	}
	var spooled []string
	filepath.Walk(filepath.Join(f.dir, "state", "spool"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			spooled = append(spooled, p)
		}
		return nil
	})
	if len(spooled) != 0 {
		t.Errorf("spool holds %v after uploads, want nothing", spooled)
	}
	if code, sql, errs := f.vectord("cat", ids[2]); code != 0 || sql != string(f.plain) {
		t.Errorf("cat from S3 = %d (%d bytes) %q", code, len(sql), errs)
	}
	if code, out, _ := f.vectord("verify"); code != 0 {
		t.Errorf("verify = %d %q", code, out)
	}
	// The catalog rebuilt from the manifests in S3 alone.
	_, before, _ := f.vectord("list", "--json")
	if err := os.Remove(filepath.Join(f.dir, "state", "catalog.db")); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := f.vectord("catalog", "rebuild"); code != 0 || !strings.Contains(out, "2 added") {
		t.Fatalf("catalog rebuild = %d %q %q", code, out, errs)
	}
	if _, after, _ := f.vectord("list", "--json"); after != before {
		t.Errorf("list --json after rebuilding from S3 differs:\nbefore %s\nafter  %s", before, after)
	}
}

// TestConfigCheckOnlineS3: config check --online lists the bucket: a
// reachable bucket is ok, a missing one or a wrong secret is one line
// naming storage.s3.
func TestConfigCheckOnlineS3(t *testing.T) {
	f := newFixture(t)
	s3 := s3Config(t)
	f.withStorage("  local:\n    path: backups\n" + s3)
	if code, out, errs := f.vectord("config", "check", "--online"); code != 0 || !strings.Contains(out, "ok: storage.s3: bucket "+os.Getenv("VECTORD_S3_BUCKET")) {
		t.Fatalf("config check --online with S3 = %d %q %q", code, out, errs)
	}
	raw, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for name, cfg := range map[string]string{
		"missing bucket": strings.Replace(good, "bucket: "+os.Getenv("VECTORD_S3_BUCKET"), "bucket: vectord-no-such-bucket", 1),
		"wrong secret":   strings.Replace(good, "secret_access_key: "+os.Getenv("VECTORD_S3_SECRET_KEY"), "secret_access_key: wrong-secret", 1),
	} {
		if cfg == good {
			t.Fatalf("%s: the configuration did not change", name)
		}
		f.writeConfig(cfg)
		code, _, errs := f.vectord("config", "check", "--online")
		if code != 1 || !strings.Contains(errs, "storage.s3:") || !strings.Contains(errs, "check storage.s3.endpoint") || strings.Count(errs, "\n") != 1 {
			t.Errorf("config check --online with a %s = %d %q, want 1 and one line naming storage.s3", name, code, errs)
		}
		if strings.Contains(errs, "wrong-secret") || strings.Contains(errs, os.Getenv("VECTORD_S3_SECRET_KEY")) {
			t.Errorf("the S3 secret reached stderr: %q", errs)
		}
	}
}
