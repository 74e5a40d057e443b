package vectorsim

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// multipartSession creates an OpenAPI import session for sql with parts of
// 1000 bytes and returns its id and part URLs.
func multipartSession(t *testing.T, e *env, sql []byte) (string, []string) {
	t.Helper()
	a := e.api("POST", "/sites/12345/imports", map[string]any{"content_length": len(sql), "filename": "big.sql"})
	if a.status != http.StatusCreated || a.data()["is_multipart"] != true {
		t.Fatalf("create = %d %s, want a multipart session", a.status, a.raw)
	}
	var urls []string
	for _, p := range a.data()["upload_parts"].([]any) {
		urls = append(urls, p.(map[string]any)["url"].(string))
	}
	return a.str("id"), urls
}

// putParts uploads chunks to the part URLs and returns the parts list for
// the run request.
func putParts(t *testing.T, e *env, urls []string, chunks [][]byte) []map[string]any {
	t.Helper()
	var parts []map[string]any
	for i, chunk := range chunks {
		resp := e.put(urls[i], chunk, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT part %d = %d", i+1, resp.StatusCode)
		}
		parts = append(parts, map[string]any{"part_number": i + 1, "etag": resp.Header.Get("ETag")})
	}
	return parts
}

// TestMultipartCompletionRefused: a run whose parts list does not match
// the uploaded parts is refused with a 422 that says what is wrong, imports
// nothing and leaves the session open for a good one.
func TestMultipartCompletionRefused(t *testing.T) {
	sql := bytes.Repeat([]byte("INSERT INTO t VALUES (42);\n"), 120)[:2900]
	chunks := [][]byte{sql[:1000], sql[1000:2000], sql[2000:]}
	tests := []struct {
		name   string
		upload []int // parts uploaded, by index into chunks
		chunks [][]byte
		parts  func(good []map[string]any) any
		want   string
	}{
		{name: "no parts list", parts: func([]map[string]any) any { return nil }, want: "the parts field is required"},
		{name: "a part missing from the list", parts: func(g []map[string]any) any { return []any{g[0], g[2]} }, want: "part 2 is missing from the list"},
		{name: "too few parts", parts: func(g []map[string]any) any { return g[:2] }, want: "the list names 2 of the upload's 3 parts"},
		{name: "out of order", parts: func(g []map[string]any) any { return []any{g[1], g[0], g[2]} }, want: "parts.0 names part 2: parts must be listed once each, in ascending order"},
		{name: "listed twice", parts: func(g []map[string]any) any { return []any{g[0], g[0], g[1]} }, want: "parts.1 names part 1: parts must be listed once each"},
		{name: "part beyond the upload", parts: func(g []map[string]any) any {
			return append(g, map[string]any{"part_number": 4, "etag": g[0]["etag"]})
		}, want: "parts.3 names part 4; the upload has parts 1 to 3"},
		{name: "wrong ETag", parts: func(g []map[string]any) any {
			return []any{g[0], g[1], map[string]any{"part_number": 3, "etag": `"00000000000000000000000000000000"`}}
		}, want: "the ETag of part 3 does not match"},
		{name: "not an object", parts: func(g []map[string]any) any { return []any{g[0], 7, g[2]} }, want: "parts.1 is neither an ETag nor an object"},
		{name: "part never uploaded", upload: []int{0, 2}, parts: func(g []map[string]any) any {
			return []any{g[0], map[string]any{"part_number": 2, "etag": `"x"`}, g[1]}
		}, want: "part 2 was never uploaded"},
		{name: "part too small", chunks: [][]byte{sql[:400], sql[400:1400], sql[1400:]}, parts: func(g []map[string]any) any { return g },
			want: "part 1 holds 400 bytes; every part but the last must hold at least 500"},
		{name: "bytes other than the session's", chunks: [][]byte{sql[:1000], sql[1000:2000], sql[2000:2800]}, parts: func(g []map[string]any) any { return g },
			want: "the parts hold 2800 bytes; the import session was created for 2900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := &recordingBackend{}
			e := newEnv(t, Options{Backend: backend, PartSize: 1000})
			id, urls := multipartSession(t, e, sql)
			use := chunks
			if tt.chunks != nil {
				use = tt.chunks
			}
			upURLs, upChunks := urls, use
			if tt.upload != nil {
				upURLs, upChunks = nil, nil
				for _, i := range tt.upload {
					upURLs, upChunks = append(upURLs, urls[i]), append(upChunks, use[i])
				}
			}
			good := putParts(t, e, upURLs, upChunks)
			if tt.upload != nil {
				for j, i := range tt.upload {
					good[j]["part_number"] = i + 1
				}
			}
			var body any
			if p := tt.parts(good); p != nil {
				body = map[string]any{"parts": p}
			}
			r := e.api("POST", "/sites/12345/imports/"+id+"/run", body)
			errs, _ := r.body["errors"].(map[string]any)
			msgs, _ := errs["parts"].([]any)
			if r.status != http.StatusUnprocessableEntity || r.body["message"] != "Failed to finalize upload" || len(msgs) != 1 ||
				!strings.HasPrefix(msgs[0].(string), "Failed to complete multipart upload: ") || !strings.Contains(msgs[0].(string), tt.want) {
				t.Fatalf("run = %d %s, want 422 Failed to finalize upload saying %q", r.status, r.raw, tt.want)
			}
			assertShape(t, r, "openapi/import_run_422_multipart.json")
			if len(backend.imports) != 0 {
				t.Errorf("the backend received an import after a refused completion")
			}
			if s := e.api("GET", "/sites/12345/imports/"+id, nil); s.str("status") == statusProcessing || s.str("status") == statusCompleted {
				t.Errorf("status after a refused completion = %s", s.raw)
			}
		})
	}
}

// TestMultipartCompletion: a part uploaded again replaces the first upload,
// ETags match without their quotes too, fresh part URLs come with a pending
// status, and the backend gets exactly the parts in order.
func TestMultipartCompletion(t *testing.T) {
	backend := &recordingBackend{}
	e := newEnv(t, Options{Backend: backend, PartSize: 1000, URLTTL: time.Minute})
	sql := bytes.Repeat([]byte("INSERT INTO t VALUES ('ü');\n"), 100)[:2500]
	id, urls := multipartSession(t, e, sql)
	if len(urls) != 3 {
		t.Fatalf("%d part URLs, want 3", len(urls))
	}
	if resp := e.put(urls[1], bytes.Repeat([]byte("x"), 1000), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT part 2 = %d", resp.StatusCode)
	}
	e.clock.Advance(2 * time.Minute)
	if resp := e.put(urls[0], sql[:1000], nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT to an expired part URL = %d, want 403", resp.StatusCode)
	}
	pend := e.api("GET", "/sites/12345/imports/"+id, nil)
	var fresh []string
	for _, p := range pend.data()["upload_parts"].([]any) {
		fresh = append(fresh, p.(map[string]any)["url"].(string))
	}
	if len(fresh) != 3 || pend.str("upload_id") == "" {
		t.Fatalf("pending status = %s, want fresh URLs for 3 parts", pend.raw)
	}
	good := putParts(t, e, fresh, [][]byte{sql[:1000], sql[1000:2000], sql[2000:]})
	for _, p := range good {
		p["etag"] = strings.Trim(p["etag"].(string), `"`)
	}
	if r := e.api("POST", "/sites/12345/imports/"+id+"/run", map[string]any{"parts": good}); r.status != http.StatusAccepted {
		t.Fatalf("run = %d %s", r.status, r.raw)
	}
	e.api("GET", "/sites/12345/imports/"+id, nil)
	if c := e.api("GET", "/sites/12345/imports/"+id, nil); c.str("status") != statusCompleted {
		t.Errorf("status = %s, want completed", c.raw)
	}
	if got := backend.imports[EnvKey{"12345", ""}]; !bytes.Equal(got, sql) {
		t.Errorf("backend got %d bytes, want the %d bytes of the parts in order", len(got), len(sql))
	}
	if st := e.sim.Stats(); st.Uploads != 4 || st.DBOperations != 1 {
		t.Errorf("Uploads, DBOperations = %d, %d; want 4, 1", st.Uploads, st.DBOperations)
	}
}
