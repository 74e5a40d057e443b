package vectorsim

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDocumentedImport(t *testing.T) {
	sql := readAll(t, Dump("import", 20<<10, MySQL))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sql)
	zw.Close()
	tests := []struct {
		name   string
		prefix string
		key    EnvKey
		upload []byte
	}{
		{"development", "/sites/12345", EnvKey{"12345", ""}, sql},
		{"environment", "/sites/12345/environments/67890", EnvKey{"12345", "67890"}, sql},
		{"gzip upload", "/sites/23456", EnvKey{"23456", ""}, gz.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := &recordingBackend{}
			e := newEnv(t, Options{Backend: backend})
			a := e.api("POST", tt.prefix+"/database/import", nil)
			if a.status != http.StatusCreated || !strings.HasPrefix(a.str("import_id"), "imp_") {
				t.Fatalf("create session = %d %s", a.status, a.raw)
			}
			assertShape(t, a, "documented/import_create.json")
			if a.str("expires_at") != "2026-01-24T13:00:00Z" {
				t.Errorf("expires_at = %q, want now+1h", a.str("expires_at"))
			}
			id := a.str("import_id")
			if s := e.api("GET", tt.prefix+"/database/import/"+id, nil); s.str("status") != statusPending {
				t.Errorf("status before upload = %s, want pending", s.raw)
			}
			if r := e.api("POST", tt.prefix+"/database/import/"+id+"/run", nil); r.status != http.StatusUnprocessableEntity {
				t.Errorf("run before upload = %d %s, want 422", r.status, r.raw)
			}
			resp := e.put(a.str("upload_url"), tt.upload, nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
				t.Fatalf("PUT = %d, ETag %q; want 200 with an ETag", resp.StatusCode, resp.Header.Get("ETag"))
			}
			if s := e.api("GET", tt.prefix+"/database/import/"+id, nil); s.str("status") != statusPending {
				t.Errorf("status after upload = %s, want pending (waiting to run)", s.raw)
			}
			if r := e.api("POST", tt.prefix+"/database/import/"+id+"/run", nil); r.status != http.StatusAccepted || r.str("import_id") != id {
				t.Fatalf("run = %d %s, want 202", r.status, r.raw)
			}
			if r := e.api("POST", tt.prefix+"/database/import/"+id+"/run", nil); r.status != http.StatusUnprocessableEntity {
				t.Errorf("second run = %d %s, want 422", r.status, r.raw)
			}
			e.clock.Advance(90 * time.Second)
			p := e.api("GET", tt.prefix+"/database/import/"+id, nil)
			if p.str("status") != statusProcessing || p.str("started_at") != "2026-01-24T12:00:00Z" || p.data()["completed_at"] != nil {
				t.Errorf("first status after run = %s, want processing, started at the run", p.raw)
			}
			c := e.api("GET", tt.prefix+"/database/import/"+id, nil)
			if c.str("status") != statusCompleted || c.str("completed_at") != "2026-01-24T12:01:30Z" {
				t.Fatalf("second status after run = %s, want completed", c.raw)
			}
			assertShape(t, c, "documented/import_status_completed.json")
			if got := backend.imports[tt.key]; !bytes.Equal(got, sql) {
				t.Errorf("backend got %d bytes, want the %d bytes of plain SQL", len(got), len(sql))
			}
			st := e.sim.Stats().Imports[tt.key]
			if st.Count != 1 || st.LastSize != int64(len(sql)) || st.LastSHA256 != sha(sql) {
				t.Errorf("Imports[%v] = %+v, want 1 import of %d bytes, sha %s", tt.key, st, len(sql), sha(sql))
			}
		})
	}
}

func TestUploadRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.api("POST", "/sites/12345/database/import", nil)
	u := a.str("upload_url")
	if resp := e.put(u, []byte("SELECT 1;"), map[string]string{"Authorization": "Bearer " + testToken}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT with Authorization = %d, want 400", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPut, u, io.NopCloser(strings.NewReader("SELECT 1;")))
	req.ContentLength = -1 // chunked, as for a file body without a length
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired || !bytes.Contains(body, []byte("MissingContentLength")) {
		t.Errorf("chunked PUT = %d %s, want 411 MissingContentLength", resp.StatusCode, body)
	}
	if resp := e.put(strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=7200", 1), []byte("x"), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT with a tampered URL = %d, want 403", resp.StatusCode)
	}
	e.clock.Advance(time.Hour + time.Second)
	if resp := e.put(u, []byte("x"), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT after the URL expired = %d, want 403", resp.StatusCode)
	}
	st := e.sim.Stats()
	if st.AuthOnPresigned != 1 || st.Uploads != 0 {
		t.Errorf("AuthOnPresigned, Uploads = %d, %d; want 1, 0", st.AuthOnPresigned, st.Uploads)
	}
}

func TestImportSessionExpires(t *testing.T) {
	e := newEnv(t, Options{ArtifactTTL: 2 * time.Hour, URLTTL: 3 * time.Hour})
	a := e.api("POST", "/sites/12345/imports", map[string]any{"content_length": 3})
	e.put(a.str("upload_url"), []byte("x;\n"), nil)
	e.clock.Advance(2*time.Hour + time.Second)
	r := e.api("POST", "/sites/12345/imports/"+a.str("id")+"/run", nil)
	if r.status != http.StatusUnprocessableEntity || r.body["message"] != "Import session has expired" {
		t.Fatalf("run after the session expired = %d %s", r.status, r.raw)
	}
	assertShape(t, r, "openapi/import_run_422_expired.json")
}

func TestOpenAPIImport(t *testing.T) {
	backend := &recordingBackend{}
	e := newEnv(t, Options{Backend: backend})
	sql := []byte("INSERT INTO t VALUES (1);\n")
	sum := md5.Sum(sql)
	a := e.api("POST", "/sites/12345/imports", map[string]any{
		"filename": "backup.sql", "content_length": len(sql), "content_md5": hex.EncodeToString(sum[:]),
		"options": map[string]any{"drop_tables": false},
	})
	if a.status != http.StatusCreated {
		t.Fatalf("create session = %d %s", a.status, a.raw)
	}
	assertShape(t, a, "openapi/import_create_201_single.json")
	d := a.data()
	if d["is_multipart"] != false || d["filename"] != "backup.sql" || d["content_length"] != jsonNum(len(sql)) ||
		d["options"].(map[string]any)["drop_tables"] != false || d["status"] != "pending" {
		t.Errorf("create session data = %s", a.raw)
	}
	id := a.str("id")
	pend := e.api("GET", "/sites/12345/imports/"+id, nil)
	assertShape(t, pend, "openapi/import_status_pending.json")
	if pend.str("upload_url") == "" {
		t.Errorf("pending status = %s, want a fresh upload_url", pend.raw)
	}
	e.clock.Advance(time.Second)
	if resp := e.put(pend.str("upload_url"), sql, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	e.clock.Advance(time.Second)
	r := e.api("POST", "/sites/12345/imports/"+id+"/run", nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("run = %d %s", r.status, r.raw)
	}
	assertShape(t, r, "openapi/import_run_202.json")
	if r.str("status") != "uploaded" || r.str("uploaded_at") != "2026-01-24T12:00:01+00:00" || r.body["message"] != "Archive import started" {
		t.Errorf("run answer = %s, want status uploaded, uploaded_at set", r.raw)
	}
	again := e.api("POST", "/sites/12345/imports/"+id+"/run", nil)
	if again.status != http.StatusUnprocessableEntity {
		t.Errorf("second run = %d %s, want 422", again.status, again.raw)
	}
	assertShape(t, again, "openapi/import_run_422_not_ready.json")
	e.api("GET", "/sites/12345/imports/"+id, nil)
	e.clock.Advance(30 * time.Second)
	c := e.api("GET", "/sites/12345/imports/"+id, nil)
	assertShape(t, c, "openapi/import_status_completed.json")
	if c.str("status") != "completed" || c.data()["duration_ms"] != jsonNum(30000) ||
		c.data()["checksum"].(map[string]any)["s3_etag"] != hex.EncodeToString(sum[:]) {
		t.Errorf("completed status = %s", c.raw)
	}
	if !bytes.Equal(backend.imports[EnvKey{"12345", ""}], sql) {
		t.Errorf("backend got %q, want %q", backend.imports[EnvKey{"12345", ""}], sql)
	}
}

func TestOpenAPIImportValidation(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no content_length", map[string]any{"filename": "a.sql"}, "content_length"},
		{"content_length not a number", map[string]any{"content_length": "lots"}, "content_length"},
		{"content_length zero", map[string]any{"content_length": 0}, "content_length"},
		{"content_length over 50 GiB", map[string]any{"content_length": int64(51) << 30}, "content_length"},
		{"bad md5", map[string]any{"content_length": 5, "content_md5": "xyz"}, "content_md5"},
		{"bad scope", map[string]any{"content_length": 5, "scope": "files"}, "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.api("POST", "/sites/12345/imports", tt.body)
			errs, _ := a.body["errors"].(map[string]any)
			if a.status != http.StatusUnprocessableEntity || errs[tt.field] == nil {
				t.Fatalf("POST = %d %s, want 422 with errors.%s", a.status, a.raw, tt.field)
			}
		})
	}
	if a := e.api("POST", "/sites/12345/imports", map[string]any{"content_length": "12", "scope": "database"}); a.status != http.StatusCreated ||
		a.str("scope") != "database" || a.str("scope_label") != "Database" {
		t.Errorf("numeric-string content_length with scope = %d %s, want 201", a.status, a.raw)
	}
	if got := e.sim.Stats().DBOperations; got != 1 {
		t.Errorf("DBOperations = %d, want 1 (refused requests spend nothing)", got)
	}
}

func TestOpenAPIMultipartImport(t *testing.T) {
	backend := &recordingBackend{}
	e := newEnv(t, Options{Backend: backend, PartSize: 1000})
	sql := bytes.Repeat([]byte("INSERT INTO t VALUES ('é');\n"), 100) // 2900 bytes
	a := e.api("POST", "/sites/12345/imports", map[string]any{"content_length": len(sql), "filename": "big.sql"})
	if a.status != http.StatusCreated {
		t.Fatalf("create = %d %s", a.status, a.raw)
	}
	assertShape(t, a, "openapi/import_create_201_multipart.json")
	if a.data()["is_multipart"] != true || a.data()["part_count"] != jsonNum(3) || a.str("upload_id") == "" {
		t.Fatalf("create data = %s, want 3 parts", a.raw)
	}
	parts := a.data()["upload_parts"].([]any)
	swapped := strings.Replace(parts[0].(map[string]any)["url"].(string), "partNumber=1&", "partNumber=2&", 1)
	if resp := e.put(swapped, sql[:1000], nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT to a part URL with another part number = %d, want 403", resp.StatusCode)
	}
	var etags []map[string]any
	for i, p := range parts {
		p := p.(map[string]any)
		chunk := sql[i*1000 : min(len(sql), (i+1)*1000)]
		resp := e.put(p["url"].(string), chunk, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT part %d = %d", i+1, resp.StatusCode)
		}
		etags = append(etags, map[string]any{"part_number": i + 1, "etag": resp.Header.Get("ETag")})
	}
	bad := []map[string]any{etags[0], etags[1], {"part_number": 3, "etag": `"0000"`}}
	r := e.api("POST", "/sites/12345/imports/"+a.str("id")+"/run", map[string]any{"parts": bad})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("run with a wrong ETag = %d %s, want 422", r.status, r.raw)
	}
	assertShape(t, r, "openapi/import_run_422_multipart.json")
	if r := e.api("POST", "/sites/12345/imports/"+a.str("id")+"/run", map[string]any{"parts": etags}); r.status != http.StatusAccepted {
		t.Fatalf("run = %d %s", r.status, r.raw)
	}
	e.api("GET", "/sites/12345/imports/"+a.str("id"), nil)
	c := e.api("GET", "/sites/12345/imports/"+a.str("id"), nil)
	if c.str("status") != "completed" || !strings.HasSuffix(c.data()["checksum"].(map[string]any)["s3_etag"].(string), "-3") {
		t.Errorf("status = %s, want completed with a multipart ETag", c.raw)
	}
	if !bytes.Equal(backend.imports[EnvKey{"12345", ""}], sql) {
		t.Error("backend did not get the parts in order")
	}
}

func TestDirectImport(t *testing.T) {
	form := func(field string, content []byte) (*bytes.Buffer, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile(field, "database.sql")
		w.Write(content)
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	sql := readAll(t, Dump("direct", 30<<10, MariaDB))
	tests := []struct {
		name   string
		field  string
		size   int
		status int
	}{
		{"small file", "file", len(sql), http.StatusAccepted},
		{"exactly 10 MB", "file", 10 << 20, http.StatusAccepted},
		{"over 10 MB", "file", 10<<20 + 1, http.StatusUnprocessableEntity},
		{"no file field", "upload", len(sql), http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			content := sql
			if tt.size != len(sql) {
				content = bytes.Repeat([]byte("-- x\n"), tt.size/5+1)[:tt.size]
			}
			body, ct := form(tt.field, content)
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/vector/sites/12345/database/import-direct", body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", ct)
			a := e.send(req)
			if a.status != tt.status {
				t.Fatalf("POST import-direct = %d %s, want %d", a.status, a.raw, tt.status)
			}
			st := e.sim.Stats()
			if tt.status != http.StatusAccepted {
				if errs, _ := a.body["errors"].(map[string]any); errs["file"] == nil {
					t.Errorf("422 answer %s lacks errors.file", a.raw)
				}
				if st.DBOperations != 0 || st.Imports[EnvKey{"12345", ""}].Count != 0 {
					t.Errorf("a refused direct import spent budget or imported: %+v", st)
				}
				return
			}
			id := a.str("import_id")
			if a.str("status") != statusPending || !strings.HasPrefix(id, "imp_") {
				t.Errorf("answer = %s, want a pending import", a.raw)
			}
			e.api("GET", "/sites/12345/database/import/"+id, nil)
			if s := e.api("GET", "/sites/12345/database/import/"+id, nil); s.str("status") != statusCompleted {
				t.Errorf("status = %s, want completed", s.raw)
			}
			if got := st.Imports[EnvKey{"12345", ""}]; got.LastSHA256 != sha(content) || got.Count != 1 || st.DBOperations != 1 {
				t.Errorf("Imports = %+v, DBOperations %d; want the file's hash and one operation", got, st.DBOperations)
			}
		})
	}
}

func TestTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Options{TempDir: dir})
	e.sim.SetFaults("", Faults{Gzip: true})
	_, d := e.exportDone("/sites/12345")
	if _, body := e.mustGet(d["download_url"].(string), nil); len(body) == 0 {
		t.Fatal("empty gzip download")
	}
	a := e.api("POST", "/sites/12345/database/import", nil)
	e.put(a.str("upload_url"), []byte("SELECT 1;\n"), nil)
	b := e.api("POST", "/sites/23456/database/import", nil)
	e.put(b.str("upload_url"), []byte("SELECT 2;\n"), nil)
	e.api("POST", "/sites/23456/database/import/"+b.str("import_id")+"/run", nil)
	if n := countFiles(t, dir); n != 2 {
		t.Errorf("%d temporary files before Close, want 2 (the gzip export and the upload not yet run)", n)
	}
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%d temporary files after Close, want 0", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
