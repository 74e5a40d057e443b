package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builtfast/vectord/integrity"
)

// check runs `vectord check ARGS` in-process.
func (f *fixture) check(args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "VECTORD_CONFIG" {
			return f.cfg
		}
		return ""
	}}
	code = m.exit(runCheck(context.Background(), m, args))
	return code, out.String(), errb.String()
}

func (f *fixture) checkJSON(args ...string) (int, integrity.Report) {
	f.t.Helper()
	code, out, errs := f.check(append([]string{"--json"}, args...)...)
	var rep integrity.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		f.t.Fatalf("check --json = %d, printed %q (stderr %q): %v", code, out, errs, err)
	}
	return code, rep
}

func kinds(rep integrity.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, string(f.Kind))
	}
	return out
}

func TestCheckCommand(t *testing.T) {
	f := newFixture(t)
	if code, out, errs := f.check(); code != 0 || !strings.Contains(out, "catalog and storage agree: 0 backups, 0 files") {
		t.Fatalf("check of an empty catalog = %d %q %q", code, out, errs)
	}
	code, out, errs := f.vectord("backup", "--site", "globex")
	if code != 0 {
		t.Fatalf("backup = %d %q", code, errs)
	}
	id := strings.TrimSpace(out)

	if code, out, errs := f.check(); code != 0 || strings.TrimSpace(out) != "catalog and storage agree: 1 backup, 1 file" {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
	if code, out, errs := f.check("--read-data"); code != 0 || !strings.Contains(out, "(1 read in full)") {
		t.Errorf("check --read-data = %d %q %q", code, out, errs)
	}
	if code, rep := f.checkJSON(); code != 0 || !rep.OK() || rep.Records != 1 || rep.Files != 1 {
		t.Errorf("check --json = %d %+v", code, rep)
	}

	// A partial download and a file nothing recorded, without a manifest.
	dir := filepath.Join(f.dir, "backups", "globex", "development")
	partial := filepath.Join(dir, "globex_development_20240102T030405Z_77.sql.zst.0123456789ab.partial")
	orphan := filepath.Join(dir, "globex_development_20240102T030405Z_78.sql.zst")
	for _, p := range []string{partial, orphan} {
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = f.check()
	if code != 1 || !strings.Contains(out, "orphan_file local:globex/development/") || !strings.Contains(out, "partial local:") ||
		!strings.HasSuffix(out, "2 problems found\n") {
		t.Errorf("check with an orphan and a partial file = %d %q, want 1 naming both", code, out)
	}
	code, rep := f.checkJSON()
	if code != 1 || strings.Join(kinds(rep), ",") != "orphan_file,partial" {
		t.Errorf("check --json = %d, kinds %v", code, kinds(rep))
	}
	code, out, errs = f.check("--repair")
	if code != 0 || !strings.Contains(out, "repaired: deleted file globex/development/globex_development_20240102T030405Z_78.sql.zst") {
		t.Errorf("check --repair = %d %q %q, want the orphan deleted and exit 0", code, out, errs)
	}
	for _, p := range []string{partial, orphan} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after check --repair: %v", p, err)
		}
	}
	if code, out, _ := f.check(); code != 0 {
		t.Errorf("check after repair = %d %q", code, out)
	}

	// The backup's file is lost: the record must go, nothing is left to keep.
	recs := f.listJSON()
	uri := recs[0]["locations"].([]any)[0].(map[string]any)["uri"].(string)
	if err := os.Remove(strings.TrimPrefix(uri, "file://")); err != nil {
		t.Fatal(err)
	}
	code, rep = f.checkJSON()
	if code != 1 || len(rep.Findings) != 1 || rep.Findings[0].Kind != integrity.KindMissingFile || rep.Findings[0].BackupID != id {
		t.Fatalf("check --json with the file gone = %d %+v", code, rep)
	}
	code, out, errs = f.check("--repair", "--json")
	var res integrity.RepairResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("check --repair --json printed %q: %v", out, err)
	}
	if code != 0 || res.Before.OK() || !res.After.OK() || len(res.Actions) != 1 || !strings.Contains(res.Actions[0], id) {
		t.Errorf("check --repair --json = %d %+v (stderr %q)", code, res, errs)
	}
	if recs := f.listJSON(); len(recs) != 0 {
		t.Errorf("list after repair = %v, want empty", recs)
	}
}

func TestCheckUsage(t *testing.T) {
	f := newFixture(t)
	if code, _, errs := f.check("extra"); code != 2 || !strings.Contains(errs, "no arguments") {
		t.Errorf("check extra = %d %q, want 2", code, errs)
	}
	if code, _, _ := f.check("--bogus"); code != 2 {
		t.Errorf("check --bogus = %d, want 2", code)
	}
}
