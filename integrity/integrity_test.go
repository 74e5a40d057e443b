package integrity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/integrity"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/storage/memory"
)

// env is a real bbolt catalog, a local target and a memory target, in a
// temporary directory.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *catalog.DB
	local *local.Target
	mem   *memory.Target
	root  string
	chk   *integrity.Checker
	seq   int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "state", "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := filepath.Join(dir, "backups")
	lt, err := local.New(root)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	e := &env{t: t, ctx: context.Background(), db: db, local: lt, mem: mem, root: root}
	e.chk = &integrity.Checker{Catalog: db, Targets: []storage.Target{lt, mem}, LocalRoot: root}
	return e
}

// sqlDump returns a complete mysqldump-like text, different for each n.
func sqlDump(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "-- MySQL dump 10.13  Distrib 8.0.36\n--\n-- Host: db    Database: wp_%d\n", n)
	for i := range 50 {
		fmt.Fprintf(&b, "INSERT INTO `wp_options` VALUES (%d,'option_%d_%d','value','yes');\n", i, n, i)
	}
	b.WriteString("-- Dump completed on 2024-01-02  3:04:05\n")
	return b.Bytes()
}

// newRecord makes a backup of sql compressed with comp, stored nowhere yet.
func (e *env) newRecord(comp string, sql []byte) (catalog.Record, []byte) {
	e.t.Helper()
	e.seq++
	c, err := codec.Parse(comp)
	if err != nil {
		e.t.Fatal(err)
	}
	var stored bytes.Buffer
	w, err := codec.NewWriter(&stored, c)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write(sql); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(sql)
	started := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC).Add(time.Duration(e.seq) * time.Hour)
	r := catalog.Record{
		ID: catalog.NewID(started), Site: "acme", Environment: "production", SiteID: "1001", EnvironmentID: "2001",
		ExportID: fmt.Sprintf("exp%d", e.seq), Source: catalog.SourceExport, Trigger: catalog.TriggerSchedule,
		StartedAt: started, CompletedAt: started.Add(time.Minute),
		SizeBytes: int64(len(sql)), SHA256: hex.EncodeToString(sum[:]), StoredBytes: int64(stored.Len()),
		Compression: comp,
	}
	return r, stored.Bytes()
}

func (e *env) put(t storage.Target, key string, data []byte) {
	e.t.Helper()
	w, err := t.Create(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Commit(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) exists(t storage.Target, key string) bool {
	e.t.Helper()
	_, err := t.Stat(e.ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		e.t.Fatal(err)
	}
	return err == nil
}

func key(t *testing.T, r catalog.Record) string {
	t.Helper()
	k, err := integrity.KeyOf(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// store stores a backup as a job does: file on every target, manifests,
// then the record.
func (e *env) store(comp string, sql []byte, targets ...storage.Target) (catalog.Record, string) {
	e.t.Helper()
	r, data := e.newRecord(comp, sql)
	k := key(e.t, r)
	for _, t := range targets {
		e.put(t, k, data)
		r.Locations = append(r.Locations, catalog.Location{Target: t.Name(), URI: t.URI(k)})
	}
	for _, t := range targets {
		if err := integrity.WriteManifest(e.ctx, t, k, r); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.db.Add(e.ctx, r); err != nil {
		e.t.Fatal(err)
	}
	return r, k
}

func (e *env) check() integrity.Report {
	e.t.Helper()
	rep, err := e.chk.Check(e.ctx)
	if err != nil {
		e.t.Fatalf("Check: %v", err)
	}
	return rep
}

// wantFindings asserts that rep holds exactly findings of these kinds, on
// these targets, and returns them.
func wantFindings(t *testing.T, rep integrity.Report, want ...string) []integrity.Finding {
	t.Helper()
	var got []string
	for _, f := range rep.Findings {
		got = append(got, string(f.Kind)+"@"+f.Target)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("findings = %v, want %v:\n%s", got, want, findingLines(rep))
	}
	return rep.Findings
}

func findingLines(rep integrity.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

// repair repairs rep and asserts that the check after it is clean.
func (e *env) repair(rep integrity.Report) integrity.RepairResult {
	e.t.Helper()
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		e.t.Fatalf("Repair: %v", err)
	}
	if len(res.Actions) == 0 {
		e.t.Errorf("Repair did nothing; left %q", res.Left)
	}
	if !res.After.OK() {
		e.t.Fatalf("check after repair found:\n%sactions %q\nleft %q", findingLines(res.After), res.Actions, res.Left)
	}
	again := e.check()
	if !again.OK() {
		e.t.Fatalf("second check after repair found:\n%s", findingLines(again))
	}
	return res
}

func (e *env) live() []catalog.Record {
	e.t.Helper()
	rs, err := e.db.List(e.ctx, catalog.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func locTargets(r catalog.Record) []string {
	var out []string
	for _, l := range r.Locations {
		out = append(out, l.Target)
	}
	return out
}

func TestCleanStateIsOK(t *testing.T) {
	e := newEnv(t)
	e.store("zstd", sqlDump(1), e.local, e.mem)
	e.store("gzip", sqlDump(2), e.local)
	e.store("none", sqlDump(3), e.mem)
	rep := e.check()
	wantFindings(t, rep)
	if !rep.OK() || rep.Records != 3 || rep.Files != 4 || rep.Verified != 0 {
		t.Errorf("report = %+v, want OK with 3 records and 4 files", rep)
	}
	e.chk.ReadData = true
	rep = e.check()
	if !rep.OK() || rep.Verified != 4 || !rep.ReadData {
		t.Errorf("report with ReadData = %+v, want OK with 4 copies verified:\n%s", rep, findingLines(rep))
	}
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"findings":[]`)) {
		t.Errorf("JSON of a clean report = %s, want an empty findings list", out)
	}
}

func TestEmptyIsOK(t *testing.T) {
	e := newEnv(t)
	if rep := e.check(); !rep.OK() || rep.Records != 0 {
		t.Errorf("report = %+v", rep)
	}
	if out, _ := json.Marshal(integrity.Report{}); !bytes.Contains(out, []byte(`"findings":[]`)) {
		t.Errorf("zero report JSON = %s", out)
	}
}

func TestMissingFileWithAnotherGoodCopy(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	if err := os.Remove(filepath.Join(e.root, filepath.FromSlash(k))); err != nil {
		t.Fatal(err)
	}
	fs := wantFindings(t, e.check(), "missing_file@local")
	if fs[0].BackupID != r.ID || fs[0].Key != k {
		t.Errorf("finding = %+v", fs[0])
	}
	e.repair(e.check())
	live := e.live()
	if len(live) != 1 || !slices.Equal(locTargets(live[0]), []string{"memory"}) {
		t.Fatalf("after repair: %+v, want the record with its memory copy only", live)
	}
	if e.exists(e.local, storage.ManifestKey(k)) {
		t.Error("the manifest beside the missing local copy stayed")
	}
	m, err := integrity.DecodeManifest(e.ctx, e.mem, storage.ManifestKey(k))
	if err != nil || !slices.Equal(locTargets(m), []string{"memory"}) {
		t.Errorf("memory manifest after repair = %+v, %v; want it rewritten with the memory location only", m, err)
	}
}

func TestMissingFileEverywhereRemovesRecord(t *testing.T) {
	e := newEnv(t)
	_, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	kept, _ := e.store("zstd", sqlDump(2), e.local)
	for _, tg := range []storage.Target{e.local, e.mem} {
		if err := tg.Delete(e.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantFindings(t, e.check(), "missing_file@local", "missing_file@memory")
	e.repair(e.check())
	if live := e.live(); len(live) != 1 || live[0].ID != kept.ID {
		t.Fatalf("after repair: %+v, want only the untouched backup", live)
	}
	if del, _ := e.db.Deleting(e.ctx); len(del) != 0 {
		t.Errorf("records left deleting: %+v", del)
	}
}

func TestSizeMismatchWithAnotherGoodCopy(t *testing.T) {
	e := newEnv(t)
	_, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	e.put(e.mem, k, []byte("truncated"))
	wantFindings(t, e.check(), "size_mismatch@memory")
	e.repair(e.check())
	if live := e.live(); !slices.Equal(locTargets(live[0]), []string{"local"}) {
		t.Errorf("locations after repair = %v, want local", locTargets(live[0]))
	}
	if e.exists(e.mem, k) || e.exists(e.mem, storage.ManifestKey(k)) {
		t.Error("the bad memory copy or its manifest stayed")
	}
}

func TestSizeMismatchOnlyCopyIsKept(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	e.put(e.local, k, []byte("truncated"))
	rep := e.check()
	wantFindings(t, rep, "size_mismatch@local")
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Left) == 0 || res.After.OK() {
		t.Errorf("repair of the only copy: %+v, want it left and reported", res)
	}
	if _, err := e.db.Get(e.ctx, r.ID); err != nil || !e.exists(e.local, k) {
		t.Errorf("the record (%v) or its only file (%v) was removed", err, e.exists(e.local, k))
	}
}

// corruptNone stores a backup without compression on targets and flips one
// byte of its copy on bad (same size, other SHA-256).
func (e *env) corruptNone(bad storage.Target, targets ...storage.Target) (catalog.Record, string) {
	e.t.Helper()
	sql := sqlDump(1)
	r, k := e.store("none", sql, targets...)
	flipped := bytes.Clone(sql)
	flipped[100] ^= 0x20
	e.put(bad, k, flipped)
	return r, k
}

func TestCorruptOnlyCopyIsNotDeleted(t *testing.T) {
	e := newEnv(t)
	r, k := e.corruptNone(e.local, e.local)
	wantFindings(t, e.check()) // sizes agree: only reading finds it
	e.chk.ReadData = true
	rep := e.check()
	fs := wantFindings(t, rep, "corrupt@local")
	if !strings.Contains(fs[0].Detail, "SHA-256") {
		t.Errorf("detail = %q, want it to name the SHA-256", fs[0].Detail)
	}
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Left) != 1 || !strings.Contains(res.Left[0], "no good copy") {
		t.Errorf("left = %q, want the corrupt only copy reported as not repairable", res.Left)
	}
	wantFindings(t, res.After, "corrupt@local")
	if _, err := e.db.Get(e.ctx, r.ID); err != nil {
		t.Errorf("the record of the only (corrupt) copy was removed: %v", err)
	}
	if !e.exists(e.local, k) || !e.exists(e.local, storage.ManifestKey(k)) {
		t.Error("the only (corrupt) copy or its manifest was deleted")
	}
}

func TestCorruptCopyWithAnotherGoodCopy(t *testing.T) {
	e := newEnv(t)
	_, k := e.corruptNone(e.local, e.local, e.mem)
	e.chk.ReadData = true
	wantFindings(t, e.check(), "corrupt@local")
	e.repair(e.check())
	if live := e.live(); !slices.Equal(locTargets(live[0]), []string{"memory"}) {
		t.Errorf("locations after repair = %v, want memory", locTargets(live[0]))
	}
	if e.exists(e.local, k) {
		t.Error("the corrupt local copy stayed")
	}
}

func TestTruncatedDumpIsCorrupt(t *testing.T) {
	e := newEnv(t)
	sql := sqlDump(1)
	cut := sql[:len(sql)-len("-- Dump completed on 2024-01-02  3:04:05\n")]
	e.store("zstd", cut, e.local)
	e.chk.ReadData = true
	fs := wantFindings(t, e.check(), "corrupt@local")
	if !strings.Contains(fs[0].Detail, "incomplete") {
		t.Errorf("detail = %q, want the dump named incomplete", fs[0].Detail)
	}
}

func TestManifestMissing(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	if err := e.local.Delete(e.ctx, storage.ManifestKey(k)); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, e.check(), "manifest_missing@local")
	e.repair(e.check())
	m, err := integrity.ReadManifest(e.ctx, e.local, storage.ManifestKey(k))
	if err != nil || m.ID != r.ID {
		t.Errorf("manifest after repair = %+v, %v", m, err)
	}
}

func TestManifestMismatch(t *testing.T) {
	for name, manifest := range map[string]func(r catalog.Record) []byte{
		"other sha": func(r catalog.Record) []byte {
			r.SHA256 = strings.Repeat("0", 64)
			b, _ := json.Marshal(r)
			return b
		},
		"other id": func(r catalog.Record) []byte {
			r.ID = catalog.NewID(r.StartedAt.Add(time.Second))
			b, _ := json.Marshal(r)
			return b
		},
		"garbage": func(catalog.Record) []byte { return []byte("{not json") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r, k := e.store("zstd", sqlDump(1), e.local)
			e.put(e.local, storage.ManifestKey(k), manifest(r))
			wantFindings(t, e.check(), "manifest_mismatch@local")
			e.repair(e.check())
			if m, err := integrity.DecodeManifest(e.ctx, e.local, storage.ManifestKey(k)); err != nil || m.ID != r.ID || m.SHA256 != r.SHA256 {
				t.Errorf("manifest after repair = %+v, %v", m, err)
			}
		})
	}
}

func TestManifestMismatchOverCorruptFileIsLeft(t *testing.T) {
	e := newEnv(t)
	r, k := e.corruptNone(e.local, e.local)
	other := r
	other.SHA256 = strings.Repeat("1", 64)
	b, _ := json.Marshal(other)
	e.put(e.local, storage.ManifestKey(k), b)
	rep := e.check()
	wantFindings(t, rep, "manifest_mismatch@local")
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 0 || len(res.Left) != 1 {
		t.Errorf("repair = actions %q left %q, want the manifest left alone", res.Actions, res.Left)
	}
}

func TestOrphanWithManifestIsAdoptedNotDeleted(t *testing.T) {
	e := newEnv(t)
	r, data := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	r.Locations = []catalog.Location{{Target: "local", URI: e.local.URI(k)}, {Target: "memory", URI: e.mem.URI(k)}}
	for _, tg := range []storage.Target{e.local, e.mem} {
		e.put(tg, k, data)
		if err := integrity.WriteManifest(e.ctx, tg, k, r); err != nil {
			t.Fatal(err)
		}
	}
	// No record: a crash between the manifests and the record.
	fs := wantFindings(t, e.check(), "orphan_file@local", "orphan_file@memory")
	if fs[0].BackupID != r.ID || !strings.Contains(fs[0].Detail, "adopts") {
		t.Errorf("finding = %+v, want it to name the backup and say it is adopted", fs[0])
	}
	res := e.repair(e.check())
	live := e.live()
	if len(live) != 1 || live[0].ID != r.ID || live[0].SHA256 != r.SHA256 ||
		!slices.Equal(locTargets(live[0]), []string{"local", "memory"}) {
		t.Fatalf("after repair: %+v, want backup %s adopted with both copies (actions %q)", live, r.ID, res.Actions)
	}
	if !e.exists(e.local, k) || !e.exists(e.mem, k) {
		t.Error("an adopted backup's file was deleted")
	}
}

func TestOrphanCopyOfRecordedBackupIsAddedToIt(t *testing.T) {
	e := newEnv(t)
	r, data := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	e.put(e.local, k, data)
	e.put(e.mem, k, data)
	r.Locations = []catalog.Location{{Target: "local", URI: e.local.URI(k)}}
	if err := integrity.WriteManifest(e.ctx, e.local, k, r); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Add(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	// The memory copy has no manifest of its own: the local one names it.
	wantFindings(t, e.check(), "orphan_file@memory")
	e.repair(e.check())
	if live := e.live(); !slices.Equal(locTargets(live[0]), []string{"local", "memory"}) {
		t.Errorf("locations after repair = %v", locTargets(live[0]))
	}
}

func TestOrphanWithoutManifestIsDeleted(t *testing.T) {
	e := newEnv(t)
	r, data := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	e.put(e.local, k, data)
	fs := wantFindings(t, e.check(), "orphan_file@local")
	if fs[0].BackupID != "" {
		t.Errorf("finding = %+v, want no backup id", fs[0])
	}
	e.repair(e.check())
	if e.exists(e.local, k) {
		t.Error("the unrecorded file without a manifest stayed")
	}
}

func TestOrphanWithBadManifestIsLeft(t *testing.T) {
	e := newEnv(t)
	r, data := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	e.put(e.local, k, data)
	e.put(e.local, storage.ManifestKey(k), []byte("{"))
	rep := e.check()
	wantFindings(t, rep, "orphan_file@local")
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Left) != 1 || !e.exists(e.local, k) {
		t.Errorf("repair = %+v; the file must stay", res)
	}
}

func TestOrphanManifest(t *testing.T) {
	e := newEnv(t)
	r, _ := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	r.Locations = []catalog.Location{{Target: "memory", URI: e.mem.URI(k)}}
	if err := integrity.WriteManifest(e.ctx, e.mem, k, r); err != nil {
		t.Fatal(err)
	}
	fs := wantFindings(t, e.check(), "orphan_manifest@memory")
	if fs[0].Key != storage.ManifestKey(k) {
		t.Errorf("key = %q, want the manifest's", fs[0].Key)
	}
	e.repair(e.check())
	if e.exists(e.mem, storage.ManifestKey(k)) {
		t.Error("the orphan manifest stayed")
	}
}

// duplicate adds a second record for r's file, with another id.
func (e *env) duplicate(r catalog.Record) catalog.Record {
	e.t.Helper()
	d := r
	d.ID = catalog.NewID(r.StartedAt.Add(time.Minute))
	if err := e.db.Add(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func TestDuplicateRecordsOnOneFile(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	d := e.duplicate(r) // a resumed job recorded the file again
	fs := wantFindings(t, e.check(), "duplicate_file@local")
	if fs[0].BackupID != d.ID || !strings.Contains(fs[0].Detail, r.ID) {
		t.Errorf("finding = %+v, want the extra record %s named, keeping %s", fs[0], d.ID, r.ID)
	}
	e.repair(e.check())
	if live := e.live(); len(live) != 1 || live[0].ID != r.ID {
		t.Fatalf("after repair: %+v, want only %s (the one the manifest names)", live, r.ID)
	}
	if !e.exists(e.local, k) || !e.exists(e.mem, k) {
		t.Error("the file was deleted with the extra record")
	}
}

func TestDuplicateKeepsTheOneTheManifestNames(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	d := e.duplicate(r)
	dm := d
	if err := integrity.WriteManifest(e.ctx, e.local, k, dm); err != nil {
		t.Fatal(err)
	}
	fs := wantFindings(t, e.check(), "duplicate_file@local")
	if fs[0].BackupID != r.ID {
		t.Errorf("finding names %s, want %s (the manifest names %s)", fs[0].BackupID, r.ID, d.ID)
	}
	e.repair(e.check())
	if live := e.live(); len(live) != 1 || live[0].ID != d.ID {
		t.Fatalf("after repair: %+v, want only %s", live, d.ID)
	}
}

func TestDuplicateWithoutManifestKeepsOldest(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	e.duplicate(r)
	if err := e.local.Delete(e.ctx, storage.ManifestKey(k)); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, e.check(), "duplicate_file@local")
	e.repair(e.check())
	if live := e.live(); len(live) != 1 || live[0].ID != r.ID {
		t.Fatalf("after repair: %+v, want only the oldest id %s", live, r.ID)
	}
	if m, err := integrity.ReadManifest(e.ctx, e.local, storage.ManifestKey(k)); err != nil || m.ID != r.ID {
		t.Errorf("manifest after repair: %+v, %v", m, err)
	}
}

func TestPendingDelete(t *testing.T) {
	for _, interrupted := range []bool{false, true} {
		t.Run(fmt.Sprintf("interrupted=%v", interrupted), func(t *testing.T) {
			e := newEnv(t)
			r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
			kept, _ := e.store("zstd", sqlDump(2), e.local)
			if err := e.db.MarkDeletingBatch(e.ctx, []string{r.ID}); err != nil {
				t.Fatal(err)
			}
			if interrupted { // the manifest went, then the crash
				if err := e.local.Delete(e.ctx, storage.ManifestKey(k)); err != nil {
					t.Fatal(err)
				}
			}
			fs := wantFindings(t, e.check(), "pending_delete@local")
			if fs[0].BackupID != r.ID {
				t.Errorf("finding = %+v", fs[0])
			}
			e.repair(e.check())
			for _, tg := range []storage.Target{e.local, e.mem} {
				if e.exists(tg, k) || e.exists(tg, storage.ManifestKey(k)) {
					t.Errorf("%s still holds the deleted backup's file or manifest", tg.Name())
				}
			}
			if del, _ := e.db.Deleting(e.ctx); len(del) != 0 {
				t.Errorf("still deleting: %+v", del)
			}
			if live := e.live(); len(live) != 1 || live[0].ID != kept.ID {
				t.Errorf("live after repair = %+v", live)
			}
		})
	}
}

func TestPendingDeleteKeepsFileOfLiveDuplicate(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	d := e.duplicate(r)
	if err := e.db.MarkDeletingBatch(e.ctx, []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, e.check(), "pending_delete@local")
	e.repair(e.check())
	if !e.exists(e.local, k) || !e.exists(e.local, storage.ManifestKey(k)) {
		t.Error("finishing the duplicate's delete removed the live backup's file")
	}
	if live := e.live(); len(live) != 1 || live[0].ID != r.ID {
		t.Errorf("live after repair = %+v", live)
	}
}

func TestPartial(t *testing.T) {
	e := newEnv(t)
	e.store("zstd", sqlDump(1), e.local)
	dir := filepath.Join(e.root, "acme", "production")
	name := filepath.Join(dir, "acme_production_20240102T050000Z_exp9.sql.zst.0123456789ab.partial")
	if err := os.WriteFile(name, []byte("half a download"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A partial file a writer holds is a download under way, not a finding.
	w, err := e.local.Create(e.ctx, "acme/production/acme_production_20240102T060000Z_exp10.sql.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	fs := wantFindings(t, e.check(), "partial@local")
	if fs[0].Key != "acme/production/acme_production_20240102T050000Z_exp9.sql.zst.0123456789ab.partial" {
		t.Errorf("key = %q", fs[0].Key)
	}
	e.repair(e.check())
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file after repair: %v", err)
	}
	if _, err := w.Write([]byte("still writing")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(e.ctx); err != nil {
		t.Errorf("the live writer's partial file was disturbed: %v", err)
	}
}

func TestUnknownTarget(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	r.Locations = append(r.Locations, catalog.Location{Target: "s3", URI: "s3://bucket/" + k})
	if err := e.db.SetLocations(e.ctx, r.ID, r.Locations); err != nil {
		t.Fatal(err)
	}
	rep := e.check()
	fs := wantFindings(t, rep, "unknown_target@s3")
	if fs[0].BackupID != r.ID || fs[0].Key != k {
		t.Errorf("finding = %+v", fs[0])
	}
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 0 || len(res.Left) != 1 {
		t.Errorf("repair = actions %q left %q, want it left", res.Actions, res.Left)
	}
	wantFindings(t, res.After, "unknown_target@s3")
}

func TestFilesWrittenAfterStartAreNotReported(t *testing.T) {
	e := newEnv(t)
	r, data := e.newRecord("zstd", sqlDump(1))
	k := key(t, r)
	e.put(e.local, k, data)
	e.put(e.mem, storage.ManifestKey(strings.Replace(k, "exp1", "exp2", 1)), []byte("{}"))
	e.put(e.mem, "acme/notes.txt", []byte("not vectord's")) // ignored
	e.chk.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	wantFindings(t, e.check())
	e.chk.Now = nil
	e.chk.MinAge = time.Hour
	wantFindings(t, e.check())
	e.chk.MinAge = 0
	wantFindings(t, e.check(), "orphan_file@local", "orphan_manifest@memory")
}

// hookCatalog is the real catalog with a hook run when Check reads it, to
// play a daemon working meanwhile.
type hookCatalog struct {
	*catalog.DB
	beforeList, afterList func()
}

func (h *hookCatalog) List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error) {
	if fn := h.beforeList; fn != nil {
		h.beforeList = nil
		fn()
	}
	rs, err := h.DB.List(ctx, f)
	if fn := h.afterList; fn != nil {
		h.afterList = nil
		fn()
	}
	return rs, err
}

func TestRaceJobFinishesDuringCheck(t *testing.T) {
	e := newEnv(t)
	// Storage is listed, then a job commits file, manifest and record
	// before the catalog is read: its record is seen, its file was not
	// listed.
	h := &hookCatalog{DB: e.db, beforeList: func() { e.store("zstd", sqlDump(1), e.local, e.mem) }}
	e.chk.Catalog = h
	wantFindings(t, e.check())

	// A job's file and manifest are listed, its record lands after the
	// catalog was read: not an orphan.
	r, data := e.newRecord("zstd", sqlDump(2))
	k := key(t, r)
	r.Locations = []catalog.Location{{Target: "local", URI: e.local.URI(k)}}
	e.put(e.local, k, data)
	if err := integrity.WriteManifest(e.ctx, e.local, k, r); err != nil {
		t.Fatal(err)
	}
	h.afterList = func() {
		if err := e.db.Add(e.ctx, r); err != nil {
			t.Error(err)
		}
	}
	wantFindings(t, e.check())
	if rep := e.check(); !rep.OK() || rep.Records != 2 {
		t.Errorf("final report = %+v", rep)
	}
}

func TestRaceRetentionDeletesDuringCheck(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	retention := func() {
		if err := e.db.MarkDeletingBatch(e.ctx, []string{r.ID}); err != nil {
			t.Error(err)
		}
		for _, tg := range []storage.Target{e.local, e.mem} {
			tg.Delete(e.ctx, storage.ManifestKey(k))
			tg.Delete(e.ctx, k)
		}
		if err := e.db.RemoveBatch(e.ctx, []string{r.ID}); err != nil {
			t.Error(err)
		}
	}
	// The record is read live, then retention removes files and record.
	e.chk.Catalog = &hookCatalog{DB: e.db, afterList: retention}
	wantFindings(t, e.check())
	// Files listed, then retention ran before the catalog was read: the
	// files look like orphans until the second look.
	r, k = e.store("zstd", sqlDump(2), e.local, e.mem)
	e.chk.Catalog = &hookCatalog{DB: e.db, beforeList: retention}
	wantFindings(t, e.check())
}

func TestRepairNeedsWritableCatalog(t *testing.T) {
	e := newEnv(t)
	e.chk.Catalog = readOnly{e.db}
	if _, err := e.chk.Repair(e.ctx, integrity.Report{}); err == nil {
		t.Error("Repair with a read-only catalog interface succeeded")
	}
}

type readOnly struct{ db *catalog.DB }

func (r readOnly) List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error) {
	return r.db.List(ctx, f)
}
func (r readOnly) Deleting(ctx context.Context) ([]catalog.Record, error) { return r.db.Deleting(ctx) }
func (r readOnly) Get(ctx context.Context, id string) (catalog.Record, error) {
	return r.db.Get(ctx, id)
}

func TestVerifyCopy(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("gzip", sqlDump(1), e.local)
	if err := integrity.VerifyCopy(e.ctx, e.local, k, r); err != nil {
		t.Errorf("VerifyCopy of a good copy = %v", err)
	}
	if err := integrity.VerifyCopy(e.ctx, e.mem, k, r); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("VerifyCopy of a missing copy = %v, want ErrNotExist", err)
	}
	bad := r
	bad.SizeBytes++
	if err := integrity.VerifyCopy(e.ctx, e.local, k, bad); !errors.Is(err, integrity.ErrCorrupt) {
		t.Errorf("VerifyCopy with the wrong SQL size = %v, want ErrCorrupt", err)
	}
	enc := r
	enc.Encrypted = true
	ek := key(t, enc)
	if !strings.HasSuffix(ek, ".sql.gz.age") {
		t.Errorf("key of an encrypted backup = %q, want it to end .sql.gz.age", ek)
	}
	data, _ := io.ReadAll(must(e.local.Open(e.ctx, k)))
	e.put(e.local, ek, data)
	if err := integrity.VerifyCopy(e.ctx, e.local, ek, enc); !errors.Is(err, integrity.ErrNotDecrypted) {
		t.Errorf("VerifyCopy of an encrypted copy = %v, want ErrNotDecrypted", err)
	}
	// Garbage of the right size that does not decompress.
	e.put(e.local, k, bytes.Repeat([]byte{0x55}, int(r.StoredBytes)))
	if err := integrity.VerifyCopy(e.ctx, e.local, k, r); !errors.Is(err, integrity.ErrCorrupt) {
		t.Errorf("VerifyCopy of garbage = %v, want ErrCorrupt", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := integrity.VerifyCopy(ctx, e.local, k, r); err == nil || errors.Is(err, integrity.ErrCorrupt) {
		t.Errorf("VerifyCopy with a canceled context = %v, want ctx's error, not corruption", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestReadManifest(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local, e.mem)
	m, err := integrity.ReadManifest(e.ctx, e.mem, storage.ManifestKey(k))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != r.ID || !slices.Equal(locTargets(m), []string{"memory"}) || m.Locations[0].URI != e.mem.URI(k) {
		t.Errorf("ReadManifest = %+v, want backup %s with its memory location only", m, r.ID)
	}
	// Stored under another backup's name.
	other := storage.ManifestKey(strings.Replace(k, "exp1", "exp7", 1))
	e.put(e.mem, other, must(io.ReadAll(must(e.mem.Open(e.ctx, storage.ManifestKey(k))))))
	if _, err := integrity.ReadManifest(e.ctx, e.mem, other); !errors.Is(err, integrity.ErrBadManifest) {
		t.Errorf("ReadManifest of a misplaced manifest = %v, want ErrBadManifest", err)
	}
	e.put(e.mem, k, []byte("short"))
	if _, err := integrity.ReadManifest(e.ctx, e.mem, storage.ManifestKey(k)); !errors.Is(err, integrity.ErrBadManifest) {
		t.Errorf("ReadManifest beside a file of the wrong size = %v, want ErrBadManifest", err)
	}
	if _, err := integrity.ReadManifest(e.ctx, e.mem, storage.ManifestKey("acme/production/nothing.sql")); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("ReadManifest of nothing = %v, want ErrNotExist", err)
	}
}

func TestFindingString(t *testing.T) {
	f := integrity.Finding{Kind: integrity.KindMissingFile, BackupID: "01hx", Target: "local", Key: "a/b/c.sql", Detail: "gone"}
	if got, want := f.String(), "missing_file local:a/b/c.sql backup 01hx: gone"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestPendingDeleteOnUnconfiguredTargetStaysMarked(t *testing.T) {
	e := newEnv(t)
	r, k := e.store("zstd", sqlDump(1), e.local)
	r.Locations = append(r.Locations, catalog.Location{Target: "s3", URI: "s3://bucket/" + k})
	if err := e.db.SetLocations(e.ctx, r.ID, r.Locations); err != nil {
		t.Fatal(err)
	}
	if err := e.db.MarkDeletingBatch(e.ctx, []string{r.ID}); err != nil {
		t.Fatal(err)
	}
	rep := e.check()
	wantFindings(t, rep, "pending_delete@local")
	res, err := e.chk.Repair(e.ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Left) != 1 || !strings.Contains(res.Left[0], `"s3"`) {
		t.Errorf("left = %q, want the unconfigured target named", res.Left)
	}
	wantFindings(t, res.After, "pending_delete@local")
	if del, _ := e.db.Deleting(e.ctx); len(del) != 1 {
		t.Errorf("deleting = %+v, want the mark kept for a later retry", del)
	}
}

// failingTarget fails List.
type failingTarget struct{ storage.Target }

func (failingTarget) List(context.Context, string) ([]storage.Info, error) {
	return nil, errors.New("connection refused")
}

func TestCheckFailsWhenStorageCannotBeListed(t *testing.T) {
	e := newEnv(t)
	e.store("zstd", sqlDump(1), e.local)
	e.chk.Targets = []storage.Target{e.local, failingTarget{e.mem}}
	if rep, err := e.chk.Check(e.ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Check = %+v, %v; want the listing error", rep, err)
	}
	e.chk.Targets = []storage.Target{e.local, e.local}
	if _, err := e.chk.Check(e.ctx); err == nil {
		t.Error("Check with two targets of one name succeeded")
	}
}
