package vectorsim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// backupDone requests a backup and polls it until it ends; it returns the
// backup's id and its final data.
func (e *env) backupDone(req map[string]any) (string, map[string]any) {
	e.t.Helper()
	a := e.api("POST", "/backups", req)
	if a.status != http.StatusAccepted {
		e.t.Fatalf("POST /backups %v = %d %s, want 202", req, a.status, a.raw)
	}
	id := a.str("id")
	for range 5 {
		s := e.api("GET", "/backups/"+id, nil)
		if s.status != http.StatusOK {
			e.t.Fatalf("GET /backups/%s = %d %s", id, s.status, s.raw)
		}
		if st := s.str("status"); st == statusCompleted || st == statusFailed {
			return id, s.data()
		}
	}
	e.t.Fatalf("backup %s did not finish", id)
	return "", nil
}

// downloadDone requests a download of a backup and polls it until it ends;
// it returns the final data.
func (e *env) downloadDone(backupID string) map[string]any {
	e.t.Helper()
	a := e.api("POST", "/backups/"+backupID+"/downloads", nil)
	if a.status != http.StatusAccepted {
		e.t.Fatalf("POST /backups/%s/downloads = %d %s, want 202", backupID, a.status, a.raw)
	}
	id := a.str("id")
	for range 5 {
		s := e.api("GET", "/backups/"+backupID+"/downloads/"+id, nil)
		if s.status != http.StatusOK {
			e.t.Fatalf("GET download %s = %d %s", id, s.status, s.raw)
		}
		if st := s.str("status"); st == statusCompleted || st == statusFailed {
			return s.data()
		}
	}
	e.t.Fatalf("download %s did not finish", id)
	return nil
}

// tarMember is one entry of a downloaded archive.
type tarMember struct {
	name string
	dir  bool
	data []byte
}

func readTarGz(t testing.TB, b []byte) []tarMember {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip archive: %v", err)
	}
	tr := tar.NewReader(zr)
	var out []tarMember
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read member %s: %v", h.Name, err)
		}
		out = append(out, tarMember{name: h.Name, dir: h.Typeflag == tar.TypeDir, data: data})
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatalf("gzip trailer: %v", err)
	}
	return out
}

func names(ms []tarMember) []string {
	var n []string
	for _, m := range ms {
		n = append(n, m.name)
	}
	return n
}

func TestBackupLifecycle(t *testing.T) {
	tests := []struct {
		name     string
		req      map[string]any
		key      EnvKey
		archType string
		archID   string
	}{
		{"environment", map[string]any{"environment_id": "67890", "type": "manual", "scope": "database",
			"description": "vectord schedule"}, EnvKey{"12345", "67890"}, "vector_environment", "67890"},
		{"environment id as a number", map[string]any{"environment_id": 67890, "type": "manual", "scope": "database"},
			EnvKey{"12345", "67890"}, "vector_environment", "67890"},
		{"site and environment", map[string]any{"site_id": "12345", "environment_id": "67890", "type": "manual"},
			EnvKey{"12345", "67890"}, "vector_environment", "67890"},
		{"development database", map[string]any{"site_id": "23456", "type": "manual", "scope": "database"},
			EnvKey{"23456", ""}, "vector_site", "23456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{DBOpsPerHour: 10})
			a := e.api("POST", "/backups", tt.req)
			if a.status != http.StatusAccepted || a.str("status") != statusPending || a.body["message"] != "Backup initiated successfully" {
				t.Fatalf("POST /backups = %d %s, want 202 pending", a.status, a.raw)
			}
			assertShape(t, a, "openapi/backup_create_202.json")
			if a.str("archivable_type") != tt.archType || a.str("archivable_id") != tt.archID || a.str("type") != "manual" {
				t.Errorf("backup = %s", a.raw)
			}
			if got := a.header.Get("X-RateLimit-Remaining"); got != "9" {
				t.Errorf("X-RateLimit-Remaining = %q, want 9 (the budget)", got)
			}
			id := a.str("id")
			if len(id) != 26 {
				t.Errorf("id %q, want a ULID", id)
			}
			for i, want := range []string{statusProcessing, statusCompleted, statusCompleted} {
				s := e.api("GET", "/backups/"+id, nil)
				if s.str("status") != want || s.str("status_label") != label(want) {
					t.Fatalf("query %d: status %q, want %q", i, s.str("status"), want)
				}
				assertShape(t, s, "openapi/backup_200.json")
				if want == statusCompleted && (s.data()["database_snapshot_id"] == nil || s.data()["completed_at"] == nil) {
					t.Errorf("completed backup = %s", s.raw)
				}
			}
			st := e.sim.Stats()
			if st.BackupRequests[tt.key] != 1 || st.DBOperations != 1 || st.BackupStatusQueries != 3 {
				t.Errorf("BackupRequests[%v], DBOperations, BackupStatusQueries = %d, %d, %d; want 1, 1, 3",
					tt.key, st.BackupRequests[tt.key], st.DBOperations, st.BackupStatusQueries)
			}
		})
	}
}

func TestBackupValidation(t *testing.T) {
	e := newEnv(t, Options{DBOpsPerHour: 10})
	tests := []struct {
		name   string
		req    map[string]any
		fields []string
	}{
		{"no ids", map[string]any{"type": "manual"}, []string{"site_id"}},
		{"no body", nil, []string{"site_id", "type"}},
		{"no type", map[string]any{"environment_id": "67890"}, []string{"type"}},
		{"bad type", map[string]any{"environment_id": "67890", "type": "hourly"}, []string{"type"}},
		{"bad scope", map[string]any{"environment_id": "67890", "type": "manual", "scope": "db"}, []string{"scope"}},
		{"unknown environment", map[string]any{"environment_id": "11111", "type": "manual"}, []string{"environment_id"}},
		{"unknown site", map[string]any{"site_id": "99999", "type": "manual"}, []string{"site_id"}},
		{"environment of another site", map[string]any{"site_id": "23456", "environment_id": "67890", "type": "manual"}, []string{"environment_id"}},
		{"id of a bad kind", map[string]any{"environment_id": true, "type": "manual"}, []string{"environment_id"}},
		{"long description", map[string]any{"site_id": "12345", "type": "manual", "description": strings.Repeat("é", 501)}, []string{"description"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.api("POST", "/backups", tt.req)
			if a.status != http.StatusUnprocessableEntity || a.body["message"] != "Validation failed" {
				t.Fatalf("POST /backups %v = %d %s, want 422", tt.req, a.status, a.raw)
			}
			errs, _ := a.body["errors"].(map[string]any)
			var got []string
			for k := range errs {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.fields) {
				t.Errorf("errors for %v, want %v", got, tt.fields)
			}
		})
	}
	a := e.api("POST", "/backups", map[string]any{"type": "manual"})
	if a.raw == nil || !bytes.Equal(a.raw, []byte(`{"data":{},"errors":{"site_id":["Either a site ID or environment ID is required."]},"message":"Validation failed","http_status":422}`)) {
		t.Errorf("answer = %s, want the OpenAPI example", a.raw)
	}
	assertShape(t, a, "openapi/backup_create_422.json")
	if st := e.sim.Stats(); st.DBOperations != 0 || len(st.BackupRequests) != 0 {
		t.Errorf("DBOperations = %d, BackupRequests = %v; want nothing spent", st.DBOperations, st.BackupRequests)
	}
}

func TestBackupBudget(t *testing.T) {
	e := newEnv(t, Options{DBOpsPerHour: 2})
	if a := e.api("POST", "/sites/12345/database/export", nil); a.status != http.StatusAccepted {
		t.Fatalf("export = %d", a.status)
	}
	if a := e.api("POST", "/backups", map[string]any{"environment_id": "67890", "type": "manual", "scope": "database"}); a.status != http.StatusAccepted {
		t.Fatalf("first backup = %d %s", a.status, a.raw)
	}
	a := e.api("POST", "/backups", map[string]any{"site_id": "23456", "type": "manual", "scope": "full"})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "3600" ||
		a.header.Get("X-RateLimit-Remaining") != "0" || a.body["message"] != "Too Many Attempts." {
		t.Fatalf("backup over the budget = %d %v %s, want 429 Retry-After 3600", a.status, a.header, a.raw)
	}
	// A files-only backup touches no database.
	if a := e.api("POST", "/backups", map[string]any{"site_id": "23456", "type": "manual", "scope": "files"}); a.status != http.StatusAccepted {
		t.Errorf("files backup over the budget = %d %s, want 202", a.status, a.raw)
	}
	// Listing, polling and downloads spend nothing.
	id := e.sim.AddPlatformBackup("12345", "67890", "database")
	if d := e.downloadDone(id); d["status"] != statusCompleted {
		t.Errorf("download over the budget = %v", d)
	}
	if a := e.api("GET", "/backups?environment_id=67890", nil); a.status != http.StatusOK {
		t.Errorf("list over the budget = %d", a.status)
	}
	st := e.sim.Stats()
	if st.DBOperations != 2 || st.RateLimited != 1 || st.BackupRequests[EnvKey{"23456", ""}] != 1 {
		t.Errorf("DBOperations, RateLimited, BackupRequests = %d, %d, %v; want 2, 1, one for 23456", st.DBOperations, st.RateLimited, st.BackupRequests)
	}
}

func TestBackupProcessingTime(t *testing.T) {
	e := newEnv(t, Options{ProcessingTime: 10 * time.Minute})
	t0 := e.clock.Now()
	a := e.api("POST", "/backups", map[string]any{"environment_id": "67890", "type": "manual", "scope": "database"})
	id := a.str("id")
	for range 3 {
		if s := e.api("GET", "/backups/"+id, nil); s.str("status") != statusProcessing {
			t.Fatalf("status before ProcessingTime = %q", s.str("status"))
		}
	}
	if a := e.api("POST", "/backups/"+id+"/downloads", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("download of a processing backup = %d %s, want 422", a.status, a.raw)
	}
	e.clock.Advance(10 * time.Minute)
	// A list shows it completed without a status query.
	l := e.api("GET", "/backups?environment_id=67890", nil)
	if it := l.items(); len(it) != 1 || it[0]["status"] != statusCompleted ||
		it[0]["completed_at"] != atom(t0.Add(10*time.Minute)) || it[0]["started_at"] != atom(t0) {
		t.Fatalf("list = %s, want the backup completed at t0+10m", l.raw)
	}
	a = e.api("POST", "/backups/"+id+"/downloads", nil)
	did := a.str("id")
	if s := e.api("GET", "/backups/"+id+"/downloads/"+did, nil); s.str("status") != statusProcessing {
		t.Errorf("download before ProcessingTime = %q", s.str("status"))
	}
	e.clock.Advance(10 * time.Minute)
	s := e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	if s.str("status") != statusCompleted || s.data()["duration_ms"] != jsonNum(600000) {
		t.Errorf("download after ProcessingTime = %s", s.raw)
	}
}

func TestBackupNotFound(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.sim.AddPlatformBackup("12345", "67890", "database")
	other := e.sim.AddPlatformBackup("23456", "", "database")
	did := e.api("POST", "/backups/"+id+"/downloads", nil).str("id")
	tests := []struct {
		method, path, message, example string
	}{
		{"GET", "/backups/01nope", "Backup not found", "openapi/backup_404.json"},
		{"POST", "/backups/01nope/downloads", "Backup not found", "openapi/backup_download_create_404.json"},
		{"GET", "/backups/01nope/downloads/" + did, "Backup not found", "openapi/backup_404.json"},
		{"GET", "/backups/" + id + "/downloads/01nope", "Backup download not found", "openapi/backup_download_status_404.json"},
		{"GET", "/backups/" + other + "/downloads/" + did, "Backup download not found", "openapi/backup_download_status_404.json"},
	}
	for _, tt := range tests {
		a := e.api(tt.method, tt.path, nil)
		if a.status != http.StatusNotFound || a.body["message"] != tt.message {
			t.Errorf("%s %s = %d %s, want 404 %q", tt.method, tt.path, a.status, a.raw, tt.message)
		}
		assertShape(t, a, tt.example)
	}
	if a := e.api("DELETE", "/backups/"+id, nil); a.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /backups/{id} = %d, want 405", a.status)
	}
}

func TestListBackups(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.AddSite("12345", "77777")
	var envIDs, siteIDs, allIDs []string // newest first
	add := func(ids *[]string, id string) {
		*ids = append([]string{id}, *ids...)
		allIDs = append([]string{id}, allIDs...)
	}
	for i := range 20 {
		e.clock.Advance(time.Hour)
		switch i % 4 {
		case 0:
			id, _ := e.backupDone(map[string]any{"environment_id": "67890", "type": "manual", "scope": "database"})
			add(&envIDs, id)
		case 1:
			add(&envIDs, e.sim.AddPlatformBackup("12345", "67890", "full"))
		case 2:
			add(&siteIDs, e.sim.AddPlatformBackup("12345", "", "database"))
		case 3:
			add(new([]string), e.sim.AddPlatformBackup("23456", "", "files"))
		}
	}
	e.sim.AddPlatformBackup("12345", "77777", "database")
	e.sim.ResetStats()
	ids := func(a answer) []string {
		var out []string
		for _, it := range a.items() {
			out = append(out, it["id"].(string))
		}
		return out
	}
	a := e.api("GET", "/backups?environment_id=67890&per_page=4", nil)
	assertListShape(t, a, "openapi/backups_list_200.json")
	if got := ids(a); !slices.Equal(got, envIDs[:4]) {
		t.Errorf("first page = %v, want %v", got, envIDs[:4])
	}
	if a.meta("total") != jsonNum(10) || a.meta("last_page") != jsonNum(3) {
		t.Errorf("meta = %v", a.body["meta"])
	}
	var all []string
	for p := 1; p <= 3; p++ {
		all = append(all, ids(e.api("GET", "/backups?environment_id=67890&per_page=4&page="+strconv.Itoa(p), nil))...)
	}
	if !slices.Equal(all, envIDs) {
		t.Errorf("every page = %v, want %v", all, envIDs)
	}
	// site_id: the site's own backups and those of all its environments.
	if got := ids(e.api("GET", "/backups?site_id=12345&per_page=100", nil)); len(got) != 16 {
		t.Errorf("site 12345 has %d backups listed, want 16", len(got))
	}
	if got := ids(e.api("GET", "/backups?site_id=12345&type=site", nil)); !slices.Equal(got, siteIDs) {
		t.Errorf("type=site of 12345 = %v, want %v", got, siteIDs)
	}
	if got := ids(e.api("GET", "/backups?type=environment&per_page=100", nil)); len(got) != 11 {
		t.Errorf("type=environment: %d backups, want 11", len(got))
	}
	if got := ids(e.api("GET", "/backups?per_page=100", nil)); len(got) != 21 || got[1] != allIDs[0] {
		t.Errorf("all backups = %d, second %v; want 21, the newest of the loop second", len(got), got[1])
	}
	if a := e.api("GET", "/backups?environment_id=11111", nil); a.status != http.StatusOK || len(a.items()) != 0 {
		t.Errorf("unknown environment = %d %s, want an empty list", a.status, a.raw)
	}
	for _, q := range []string{"type=bogus", "per_page=500"} {
		if a := e.api("GET", "/backups?"+q, nil); a.status != http.StatusUnprocessableEntity {
			t.Errorf("GET /backups?%s = %d, want 422", q, a.status)
		}
	}
	// Items as the OpenAPI shows them.
	it := e.api("GET", "/backups?environment_id=67890&per_page=2", nil).items()
	if it[0]["type"] != "scheduled" || it[0]["type_label"] != "Scheduled" || it[0]["scope"] != "full" ||
		it[0]["file_snapshot_id"] == nil || it[1]["type"] != "manual" || it[1]["scope_label"] != "Database" ||
		it[1]["file_snapshot_id"] != nil || it[1]["description"] != nil {
		t.Errorf("items = %v", it)
	}
	st := e.sim.Stats()
	// Lists answered 200: first page, 3 pages, site, site+type, type,
	// all, unknown environment, the last page of 2.
	if st.BackupListRequests != 10 || st.BackupsListed != 4+10+16+5+11+21+0+2 || st.PlatformBackupsListed != 2+5+11+5+6+16+0+1 {
		t.Errorf("BackupListRequests, BackupsListed, PlatformBackupsListed = %d, %d, %d", st.BackupListRequests, st.BackupsListed, st.PlatformBackupsListed)
	}
}

func TestPlatformBackupEvery(t *testing.T) {
	e := newEnv(t, Options{PlatformBackupEvery: 6 * time.Hour, PlatformBackupScope: "database"})
	t0 := e.clock.Now()
	if a := e.api("GET", "/backups", nil); len(a.items()) != 0 {
		t.Fatalf("backups before the first period = %s", a.raw)
	}
	e.clock.Advance(25 * time.Hour)
	a := e.api("GET", "/backups?environment_id=67890", nil)
	it := a.items()
	if len(it) != 4 {
		t.Fatalf("after 25h: %d backups, want 4", len(it))
	}
	for i, b := range it {
		want := atom(t0.Add(time.Duration(4-i) * 6 * time.Hour))
		if b["type"] != "scheduled" || b["scope"] != "database" || b["status"] != statusCompleted || b["created_at"] != want {
			t.Errorf("backup %d = %v, want a completed scheduled database backup created at %v", i, b, want)
		}
	}
	if a := e.api("GET", "/backups?site_id=23456", nil); len(a.items()) != 0 {
		t.Errorf("site without environments has %d scheduled backups, want 0", len(a.items()))
	}
	// An environment added later counts from its addition.
	e.sim.AddSite("23456", "88888")
	e.clock.Advance(6 * time.Hour)
	if a := e.api("GET", "/backups?environment_id=88888", nil); len(a.items()) != 1 {
		t.Errorf("new environment after one period: %s", a.raw)
	}
	st := e.sim.Stats()
	if st.PlatformBackups != 6 || st.DBOperations != 0 {
		t.Errorf("PlatformBackups, DBOperations = %d, %d; want 6, 0", st.PlatformBackups, st.DBOperations)
	}
	// A long jump of the clock creates the newest 1000 only.
	e.clock.Advance(10000 * 6 * time.Hour)
	if a := e.api("GET", "/backups?environment_id=67890", nil); a.meta("total") != jsonNum(1000+5) {
		t.Errorf("after a long jump: %v backups, want 1005", a.meta("total"))
	}
	// Each is downloadable.
	if d := e.downloadDone(it[0]["id"].(string)); d["status"] != statusCompleted {
		t.Errorf("download of a scheduled backup = %v", d)
	}
}

func TestAddPlatformBackupPanics(t *testing.T) {
	e := newEnv(t, Options{})
	for _, args := range [][3]string{{"99999", "", "full"}, {"12345", "11111", "full"}, {"12345", "", "everything"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddPlatformBackup%v did not panic", args)
				}
			}()
			e.sim.AddPlatformBackup(args[0], args[1], args[2])
		}()
	}
}

func TestBackupDownloadLifecycle(t *testing.T) {
	dump := Dump("backup", 300<<10, MariaDB)
	e := newEnv(t, Options{Backend: &recordingBackend{body: dump}})
	id, b := e.backupDone(map[string]any{"environment_id": "67890", "type": "manual", "scope": "database"})
	if b["status"] != statusCompleted {
		t.Fatalf("backup = %v", b)
	}
	a := e.api("POST", "/backups/"+id+"/downloads", nil)
	if a.status != http.StatusAccepted || a.str("status") != statusPending || a.str("vector_backup_id") != id ||
		a.body["message"] != "Backup download initiated" {
		t.Fatalf("POST downloads = %d %s", a.status, a.raw)
	}
	assertShape(t, a, "openapi/backup_download_create_202.json")
	did := a.str("id")
	s := e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	if s.str("status") != statusProcessing || s.data()["download_url"] != nil {
		t.Fatalf("first query = %s, want processing", s.raw)
	}
	assertShape(t, s, "openapi/backup_download_status_processing.json")
	s = e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	assertShape(t, s, "openapi/backup_download_status_completed.json")
	d := s.data()
	if d["status"] != statusCompleted || d["s3_key"] != "backups/downloads/"+did+".tar.gz" ||
		d["download_expires_at"] != "2026-01-24T13:00:00+00:00" {
		t.Fatalf("second query = %s, want completed", s.raw)
	}
	u := s.str("download_url")
	if !strings.Contains(u, "/s3/vector-db-transfers/backups/downloads/"+did+".tar.gz?") || !strings.Contains(u, "X-Amz-Signature=") {
		t.Errorf("download_url %s, want a presigned URL of the s3_key", redact(u))
	}
	resp, archive := e.mustGet(u, nil)
	if resp.StatusCode != http.StatusOK || archive[0] != 0x1f || archive[1] != 0x8b {
		t.Fatalf("GET archive = %d, first bytes % x", resp.StatusCode, archive[:2])
	}
	if d["size_bytes"] != jsonNum(len(archive)) || resp.Header.Get("Content-Length") != strconv.Itoa(len(archive)) {
		t.Errorf("size_bytes %v, Content-Length %s, archive %d bytes", d["size_bytes"], resp.Header.Get("Content-Length"), len(archive))
	}
	ms := readTarGz(t, archive)
	if got := names(ms); !slices.Equal(got, []string{"database/", "database/db_67890.sql"}) {
		t.Fatalf("members = %v", got)
	}
	if !bytes.Equal(ms[1].data, readAll(t, dump)) {
		t.Error("the .sql member is not the dump")
	}
	// Every query mints a fresh URL; the ones minted before still work.
	e.clock.Advance(time.Second)
	s2 := e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	if s2.str("download_url") == u {
		t.Error("second query of a completed download gave the same URL")
	}
	if resp, again := e.mustGet(s2.str("download_url"), nil); resp.StatusCode != http.StatusOK || !bytes.Equal(again, archive) {
		t.Errorf("second URL = %d, same bytes %v", resp.StatusCode, bytes.Equal(again, archive))
	}
	// A second download of the same backup gives the same archive.
	d2 := e.downloadDone(id)
	if d2["id"] == did {
		t.Error("second download has the first one's id")
	}
	if _, again := e.mustGet(d2["download_url"].(string), nil); !bytes.Equal(again, archive) {
		t.Error("a second download of the backup gave other bytes")
	}
	st := e.sim.Stats()
	if st.BackupDownloadRequests != 2 || st.BackupDownloadStatusQueries != 5 || st.Downloads != 3 || st.DBOperations != 1 {
		t.Errorf("BackupDownloadRequests, BackupDownloadStatusQueries, Downloads, DBOperations = %d, %d, %d, %d; want 2, 5, 3, 1",
			st.BackupDownloadRequests, st.BackupDownloadStatusQueries, st.Downloads, st.DBOperations)
	}
}

func TestBackupDownloadOfUnfinishedBackup(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.api("POST", "/backups", map[string]any{"site_id": "12345", "type": "manual", "scope": "database"}).str("id")
	a := e.api("POST", "/backups/"+id+"/downloads", nil)
	if a.status != http.StatusUnprocessableEntity || a.body["errors"] == nil {
		t.Errorf("download of a pending backup = %d %s, want 422", a.status, a.raw)
	}
	e.sim.SetFaults("12345", Faults{FailBackup: "restic: repository locked"})
	e.api("GET", "/backups/"+id, nil)
	s := e.api("GET", "/backups/"+id, nil)
	if s.str("status") != statusFailed || s.str("error_message") != "restic: repository locked" || s.str("status_label") != "Failed" {
		t.Fatalf("backup under FailBackup = %s", s.raw)
	}
	if a := e.api("POST", "/backups/"+id+"/downloads", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("download of a failed backup = %d, want 422", a.status)
	}
	if st := e.sim.Stats(); st.BackupDownloadRequests != 0 {
		t.Errorf("BackupDownloadRequests = %d, want 0", st.BackupDownloadRequests)
	}
}

func TestArchiveMembers(t *testing.T) {
	dump := Dump("members", 100<<10, MySQL)
	plain := readAll(t, dump)
	filesBefore := []string{"wp-content/", "wp-content/uploads/2026/01/hero.jpg", "wp-content/themes/vector-starter/style.css"}
	filesAfter := []string{"wp-content/uploads/2026/01/hero-300x200.jpg", "wp-content/plugins/hello-dolly/hello.php"}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	tests := []struct {
		name   string
		env    string // "" for the development database (db_12345)
		scope  string
		faults Faults
		want   []string
		sql    string // the member holding the dump; "" for none
		gz     bool
	}{
		{"database", "67890", "database", Faults{}, []string{"database/", "database/db_67890.sql"}, "database/db_67890.sql", false},
		{"development database", "", "database", Faults{}, []string{"database/", "database/db_12345.sql"}, "database/db_12345.sql", false},
		{"full", "67890", "full", Faults{},
			cat(filesBefore, []string{"database/", "database/db_67890.sql"}, filesAfter), "database/db_67890.sql", false},
		{"files", "67890", "files", Faults{}, cat(filesBefore, filesAfter), "", false},
		{"gzip member", "67890", "database", Faults{ArchiveSQLGzip: true},
			[]string{"database/", "database/db_67890.sql.gz"}, "database/db_67890.sql.gz", true},
		{"gzip member, full", "67890", "full", Faults{ArchiveSQLGzip: true},
			cat(filesBefore, []string{"database/", "database/db_67890.sql.gz"}, filesAfter), "database/db_67890.sql.gz", true},
		{"two dumps", "67890", "database", Faults{ArchiveTwoSQL: true},
			[]string{"database/", "database/db_67890.sql", "database/db_67890-previous.sql"}, "database/db_67890.sql", false},
		{"no dump", "67890", "database", Faults{ArchiveNoSQL: true}, []string{"database/"}, "", false},
		{"no dump, full", "67890", "full", Faults{ArchiveNoSQL: true}, cat(filesBefore, []string{"database/"}, filesAfter), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{Backend: &recordingBackend{body: dump}})
			id := e.sim.AddPlatformBackup("12345", tt.env, tt.scope)
			e.sim.SetFaults("12345", tt.faults)
			d := e.downloadDone(id)
			_, archive := e.mustGet(d["download_url"].(string), nil)
			ms := readTarGz(t, archive)
			if got := names(ms); !slices.Equal(got, tt.want) {
				t.Fatalf("members = %v, want %v", got, tt.want)
			}
			var sqls []string
			for _, m := range ms {
				if strings.HasSuffix(m.name, ".sql") || strings.HasSuffix(m.name, ".sql.gz") {
					sqls = append(sqls, m.name)
				}
				if m.dir != strings.HasSuffix(m.name, "/") {
					t.Errorf("member %s: directory %v", m.name, m.dir)
				}
				if !m.dir && len(m.data) == 0 {
					t.Errorf("member %s is empty", m.name)
				}
				if strings.HasSuffix(m.name, ".jpg") && !bytes.HasPrefix(m.data, []byte{0xFF, 0xD8, 0xFF}) {
					t.Errorf("member %s does not start like a JPEG", m.name)
				}
				if len(m.data) > 64<<10 && !strings.Contains(m.name, ".sql") {
					t.Errorf("file member %s has %d bytes", m.name, len(m.data))
				}
				if m.name == tt.sql {
					got := m.data
					if tt.gz {
						zr, err := gzip.NewReader(bytes.NewReader(m.data))
						if err != nil {
							t.Fatalf("gunzip %s: %v", m.name, err)
						}
						if got, err = io.ReadAll(zr); err != nil {
							t.Fatalf("gunzip %s: %v", m.name, err)
						}
					}
					if !bytes.Equal(got, plain) {
						t.Errorf("member %s: %d bytes differing from the %d-byte dump", m.name, len(got), len(plain))
					}
				}
			}
			if wantSQL := map[bool]int{true: 2, false: 1}[tt.faults.ArchiveTwoSQL]; tt.sql == "" && len(sqls) != 0 ||
				tt.sql != "" && len(sqls) != wantSQL {
				t.Errorf(".sql members = %v", sqls)
			}
		})
	}
}

// The same backup and faults give the same archive on any server.
func TestArchiveDeterministic(t *testing.T) {
	spec := archiveSpec{seed: "01backup", modTime: time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC), scope: scopeFull,
		dbName: "db_1", sql: Dump("x", 50<<10, MySQL)}
	var a, b bytes.Buffer
	if err := spec.write(t.Context(), &a); err != nil {
		t.Fatal(err)
	}
	if err := spec.write(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of one archive differ")
	}
	spec.seed = "01other"
	var c bytes.Buffer
	if err := spec.write(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("archives of different backups are equal")
	}
}

func TestBackupArchiveRangeAndResume(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 400 << 10})
	id := e.sim.AddPlatformBackup("12345", "67890", "full")
	d := e.downloadDone(id)
	u := d["download_url"].(string)
	resp, whole := e.mustGet(u, nil)
	etag, lastModified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if resp.Header.Get("Accept-Ranges") != "bytes" || etag == "" || lastModified == "" {
		t.Fatalf("headers %v, want Accept-Ranges, ETag and Last-Modified", resp.Header)
	}
	resp, part := e.mustGet(u, map[string]string{"Range": "bytes=1000-1999"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[1000:2000]) ||
		resp.Header.Get("Content-Range") != "bytes 1000-1999/"+strconv.Itoa(len(whole)) {
		t.Errorf("Range 1000-1999 = %d %s", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, part = e.mustGet(u, map[string]string{"Range": "bytes=100-", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[100:]) {
		t.Errorf("If-Range with the ETag = %d", resp.StatusCode)
	}
	resp, part = e.mustGet(u, map[string]string{"Range": "bytes=100-", "If-Range": `"changed"`})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(part, whole) {
		t.Errorf("If-Range with another ETag = %d, want the whole archive", resp.StatusCode)
	}
	if resp, _ := e.mustGet(u, map[string]string{"Range": "bytes=" + strconv.Itoa(len(whole)) + "-"}); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range past the end = %d, want 416", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	if resp, err := e.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(whole)) {
		t.Errorf("HEAD = %v, %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPut, u, nil)
	if resp, err := e.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT to a download URL = %v, %v; want 405", resp, err)
	}

	// A cut download resumes with Range to the same bytes.
	e.sim.SetFaults("12345", Faults{CutAfter: 50000, CutTimes: 2})
	var got []byte
	for i := range 3 {
		var h map[string]string
		if len(got) > 0 {
			h = map[string]string{"Range": "bytes=" + strconv.Itoa(len(got)) + "-", "If-Range": etag}
		}
		resp, body, err := e.get(u, h)
		if resp == nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		got = append(got, body...)
		if i < 2 && (!errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 50000) {
			t.Fatalf("attempt %d: %d bytes, %v; want 50000 and an unexpected EOF", i, len(body), err)
		}
		if i == 2 && err != nil {
			t.Fatalf("attempt 2: %v", err)
		}
	}
	if !bytes.Equal(got, whole) {
		t.Error("resumed archive differs")
	}
}

func TestBackupDownloadURLExpiry(t *testing.T) {
	e := newEnv(t, Options{URLTTL: 10 * time.Minute, ArtifactTTL: 2 * time.Hour})
	id := e.sim.AddPlatformBackup("12345", "67890", "database")
	d := e.downloadDone(id)
	did := d["id"].(string)
	u := d["download_url"].(string)

	e.sim.SetFaults("12345", Faults{ExpiredURLs: 1})
	s := e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	if s.str("download_expires_at") != atom(e.clock.Now().Add(10*time.Minute)) {
		t.Errorf("download_expires_at = %q, want it to look valid", s.str("download_expires_at"))
	}
	if resp, body := e.mustGet(s.str("download_url"), nil); resp.StatusCode != http.StatusForbidden ||
		!bytes.Contains(body, []byte("Request has expired")) {
		t.Errorf("URL under ExpiredURLs = %d %s, want 403 Request has expired", resp.StatusCode, body)
	}

	e.clock.Advance(11 * time.Minute)
	if resp, _ := e.mustGet(u, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("URL after URLTTL = %d, want 403", resp.StatusCode)
	}
	fresh := e.api("GET", "/backups/"+id+"/downloads/"+did, nil).str("download_url")
	if resp, _ := e.mustGet(fresh, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("fresh URL = %d, want 200", resp.StatusCode)
	}
	// Near the end of ArtifactTTL a fresh URL is minted; past it the URL,
	// though validly signed, finds no archive, and queries give no URL.
	e.clock.Advance(time.Hour + 40*time.Minute) // completion + 1h51m
	last := e.api("GET", "/backups/"+id+"/downloads/"+did, nil).str("download_url")
	e.clock.Advance(9 * time.Minute) // completion + 2h: the URL is valid 1 more minute
	if resp, body := e.mustGet(last, nil); resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("NoSuchKey")) {
		t.Errorf("URL after ArtifactTTL = %d %s, want 404 NoSuchKey", resp.StatusCode, body)
	}
	s = e.api("GET", "/backups/"+id+"/downloads/"+did, nil)
	if s.str("status") != statusCompleted || s.data()["download_url"] != nil || s.data()["download_expires_at"] != nil {
		t.Errorf("after ArtifactTTL = %s, want completed with download_url null", s.raw)
	}
}

func TestBackupFaults(t *testing.T) {
	t.Run("download fails", func(t *testing.T) {
		e := newEnv(t, Options{})
		id := e.sim.AddPlatformBackup("12345", "67890", "database")
		e.sim.SetFaults("12345", Faults{FailBackupDownload: "archive job failed"})
		d := e.downloadDone(id)
		if d["status"] != statusFailed || d["error_message"] != "archive job failed" || d["download_url"] != nil ||
			d["s3_key"] != nil || d["duration_ms"] == nil {
			t.Errorf("download under FailBackupDownload = %v", d)
		}
	})
	t.Run("backend error", func(t *testing.T) {
		e := newEnv(t, Options{Backend: &recordingBackend{err: errors.New("snapshot missing")}})
		id := e.sim.AddPlatformBackup("12345", "67890", "database")
		if d := e.downloadDone(id); d["status"] != statusFailed || d["error_message"] != "snapshot missing" {
			t.Errorf("download with a failing backend = %v", d)
		}
	})
	t.Run("stuck", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.sim.SetFaults("12345", Faults{StuckProcessing: true})
		id := e.api("POST", "/backups", map[string]any{"environment_id": "67890", "type": "manual", "scope": "database"}).str("id")
		for range 4 {
			if s := e.api("GET", "/backups/"+id, nil); s.str("status") != statusProcessing {
				t.Fatalf("stuck backup = %q", s.str("status"))
			}
		}
		e.sim.SetFaults("12345", Faults{})
		if s := e.api("GET", "/backups/"+id, nil); s.str("status") != statusCompleted {
			t.Errorf("backup after the fault = %q", s.str("status"))
		}
	})
	t.Run("dropped answer", func(t *testing.T) {
		e := newEnv(t, Options{DBOpsPerHour: 5})
		e.sim.SetFaults("12345", Faults{DropBackupAnswer: true})
		body := strings.NewReader(`{"environment_id":"67890","type":"manual","scope":"database"}`)
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/vector/backups", body)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if resp, err := e.srv.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("dropped answer = %d, want a connection error", resp.StatusCode)
		}
		st := e.sim.Stats()
		if st.BackupRequests[EnvKey{"12345", "67890"}] != 1 || st.DBOperations != 1 {
			t.Errorf("BackupRequests, DBOperations = %v, %d; want one each", st.BackupRequests, st.DBOperations)
		}
		if a := e.api("GET", "/backups?environment_id=67890", nil); len(a.items()) != 1 {
			t.Errorf("backups after a dropped answer = %s, want the one", a.raw)
		}
	})
	t.Run("site faults reach the backups routes", func(t *testing.T) {
		e := newEnv(t, Options{})
		id := e.sim.AddPlatformBackup("12345", "67890", "database")
		e.sim.SetFaults("12345", Faults{ServerErrors: 4, RateLimited: 1})
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/backups", map[string]any{"environment_id": 67890, "type": "manual"}},
			{"GET", "/backups?environment_id=67890", nil},
			{"GET", "/backups/" + id, nil},
			{"GET", "/environments/67890", nil},
		} {
			if a := e.api(r.method, r.path, r.body); a.status/100 != 5 {
				t.Errorf("%s %s under ServerErrors = %d, want 5xx", r.method, r.path, a.status)
			}
		}
		if a := e.api("GET", "/backups?site_id=23456", nil); a.status != http.StatusOK {
			t.Errorf("another site's list = %d, want 200", a.status)
		}
		if a := e.api("POST", "/backups/"+id+"/downloads", nil); a.status != http.StatusTooManyRequests {
			t.Errorf("download under RateLimited = %d, want 429", a.status)
		}
	})
	t.Run("numeric strings and no trailer", func(t *testing.T) {
		e := newEnv(t, Options{DumpSize: 20 << 10})
		id := e.sim.AddPlatformBackup("12345", "67890", "database")
		e.sim.SetFaults("12345", Faults{NumericStrings: true, NoTrailer: true})
		d := e.downloadDone(id)
		if _, ok := d["size_bytes"].(string); !ok {
			t.Errorf("size_bytes = %#v, want a numeric string", d["size_bytes"])
		}
		_, archive := e.mustGet(d["download_url"].(string), nil)
		ms := readTarGz(t, archive)
		if sql := ms[1].data; bytes.HasSuffix(sql, []byte(Trailer)) || len(sql) == 0 {
			t.Errorf("dump under NoTrailer ends %q", tail(sql))
		}
	})
}

// The archive of a 64 MiB dump is built and served with a bounded heap: it
// is streamed into a temporary file, and from there.
func TestBackupArchiveConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB archive")
	}
	const size = 64 << 20
	e := newEnv(t, Options{DumpSize: size})
	id := e.sim.AddPlatformBackup("12345", "67890", "full")

	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	peak := base.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()

	d := e.downloadDone(id) // builds the archive
	resp, err := e.srv.Client().Get(d["download_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var gotSum []byte
	var sqlSize int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		if strings.HasSuffix(h.Name, ".sql") {
			sum := sha256.New()
			if sqlSize, err = io.Copy(sum, tr); err != nil {
				t.Fatalf("read %s: %v", h.Name, err)
			}
			gotSum = sum.Sum(nil)
		}
	}
	close(stop)
	<-done

	want := sha256.New()
	if _, err := io.Copy(want, io.NewSectionReader(Dump("12345/67890/1", size, MySQL), 0, size)); err != nil {
		t.Fatal(err)
	}
	if sqlSize != size || !bytes.Equal(gotSum, want.Sum(nil)) {
		t.Errorf(".sql member: %d bytes, equal to the dump: %v; want %d", sqlSize, bytes.Equal(gotSum, want.Sum(nil)), size)
	}
	t.Logf("archive %v bytes; heap peak %d MiB over the %d MiB before", d["size_bytes"],
		(int64(peak)-int64(base.HeapAlloc))>>20, base.HeapAlloc>>20)
	if grew := int64(peak) - int64(base.HeapAlloc); grew > 12<<20 {
		t.Errorf("heap grew by %d MiB building and serving the archive of a 64 MiB dump", grew>>20)
	}
}

// Backups, downloads, lists, schedules and new sites at once (run with
// -race).
func TestBackupsConcurrentUse(t *testing.T) {
	e := newEnv(t, Options{PlatformBackupEvery: time.Hour, DumpSize: 32 << 10})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				switch g {
				case 0:
					id, b := e.backupDone(map[string]any{"environment_id": "67890", "type": "manual", "scope": "full"})
					if b["status"] != statusCompleted {
						t.Errorf("backup %s = %v", id, b)
						return
					}
					d := e.downloadDone(id)
					if resp, body := e.mustGet(d["download_url"].(string), nil); resp.StatusCode != http.StatusOK || len(body) == 0 {
						t.Errorf("archive = %d", resp.StatusCode)
					}
				case 1:
					e.api("GET", "/backups?site_id=12345&per_page=3&page="+strconv.Itoa(i+1), nil)
					e.api("GET", "/sites", nil)
				case 2:
					e.clock.Advance(30 * time.Minute)
					e.sim.AddSite(strconv.Itoa(40000+i), strconv.Itoa(41000+i))
					e.api("GET", "/environments?per_page=100", nil)
				case 3:
					id := e.sim.AddPlatformBackup("23456", "", "database")
					e.downloadDone(id)
					_ = e.sim.Stats()
				}
			}
		})
	}
	wg.Wait()
	if st := e.sim.Stats(); st.BackupRequests[EnvKey{"12345", "67890"}] != 5 || st.BackupDownloadRequests != 10 {
		t.Errorf("BackupRequests, BackupDownloadRequests = %v, %d", st.BackupRequests, st.BackupDownloadRequests)
	}
}
