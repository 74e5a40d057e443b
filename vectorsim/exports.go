package vectorsim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Export and import statuses.
const (
	statusPending    = "pending"
	statusUploaded   = "uploaded"
	statusProcessing = "processing"
	statusCompleted  = "completed"
	statusFailed     = "failed"
)

// export is one requested export.
type export struct {
	id      string
	site    string
	env     string
	created time.Time

	mu        sync.Mutex
	status    string
	queries   int // status queries so far
	started   time.Time
	completed time.Time // also set when failed
	wasStuck  bool
	errMsg    string
	obj       *storedObject // set when completed
}

// storedObject is a completed export as storage holds it.
type storedObject struct {
	body Body
	key  string // object key under the bucket: exports/<id>.sql[.gz]
	etag string // quoted
}

func (s *Server) createExport(c *call) {
	if !s.checkSite(c) {
		return
	}
	if c.openapi {
		var req struct {
			Format json.RawMessage `json:"format"`
		}
		decodeOptional(c.r, &req)
		if len(req.Format) > 0 && string(req.Format) != "null" && string(req.Format) != `"sql"` {
			c.invalid("format", "The selected format is invalid.")
			return
		}
	}
	if !s.spend(c) {
		return
	}
	id := "exp_" + randomID(16)
	if c.openapi {
		id = ulid(c.now)
	}
	e := &export{id: id, site: c.site, env: c.env, created: c.now, status: statusPending}
	s.mu.Lock()
	s.exports[id] = e
	s.stats.ExportRequests[EnvKey{c.site, c.env}]++
	s.mu.Unlock()
	s.log.Info("export requested", "site", c.site, "environment", c.env, "export_id", id)
	f := s.faultsFor(c.site)
	if f.DropExportAnswer {
		drop(c.w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.openapi {
		c.reply(http.StatusAccepted, s.openapiExport(e, "", time.Time{}, f), "Database export started")
		return
	}
	c.reply(http.StatusAccepted, object{{"export_id", id}, {"status", statusPending}}, "Database export started")
}

func (s *Server) exportStatus(c *call) {
	if !s.checkSite(c) {
		return
	}
	s.mu.Lock()
	e := s.exports[c.id]
	s.mu.Unlock()
	if e == nil || e.site != c.site || e.env != c.env {
		c.fail(http.StatusNotFound, "Export not found", nil)
		return
	}
	f := s.faultsFor(c.site)
	e.mu.Lock()
	defer e.mu.Unlock()
	s.advanceExport(c.r.Context(), e, c.now, f)
	s.mu.Lock()
	s.stats.StatusQueries++
	s.mu.Unlock()

	var url string
	var expires time.Time
	if e.status == statusCompleted && c.now.Before(e.completed.Add(s.opts.ArtifactTTL)) {
		url, expires = s.mintDownload(c, e)
	}
	if c.openapi {
		c.reply(http.StatusOK, s.openapiExport(e, url, expires, f), "Export retrieved successfully")
		return
	}
	data := object{{"export_id", e.id}, {"status", e.status}}
	switch e.status {
	case statusCompleted:
		data = append(data, field{"download_url", nullable(url)}, field{"expires_at", rfc3339(expires)})
	case statusFailed:
		data = append(data, field{"error_message", e.errMsg})
	}
	c.reply(http.StatusOK, data, "Export retrieved successfully")
}

// advanceExport moves an export along at a status query (see the package
// documentation for the rule). The caller holds e.mu.
func (s *Server) advanceExport(ctx context.Context, e *export, now time.Time, f Faults) {
	if e.status == statusCompleted || e.status == statusFailed {
		return
	}
	e.queries++
	pt := s.opts.ProcessingTime
	if e.status == statusPending {
		e.status = statusProcessing
		e.started = now
		if pt > 0 {
			e.started = e.created
		}
	}
	ready := e.queries >= 2
	if pt > 0 {
		ready = !now.Before(e.created.Add(pt))
	}
	if !ready {
		return
	}
	if f.StuckProcessing {
		e.wasStuck = true
		return
	}
	at := now
	if pt > 0 && !e.wasStuck {
		at = e.created.Add(pt)
	}
	if f.FailExport != "" {
		e.status, e.completed, e.errMsg = statusFailed, at, f.FailExport
		s.log.Info("export failed", "site", e.site, "environment", e.env, "export_id", e.id, "error", e.errMsg)
		return
	}
	obj, err := s.store(ctx, e, f)
	if err != nil {
		if ctx.Err() != nil {
			return // the client went away; complete at a later query
		}
		e.status, e.completed, e.errMsg = statusFailed, at, err.Error()
		s.log.Info("export failed", "site", e.site, "environment", e.env, "export_id", e.id, "error", err)
		return
	}
	e.status, e.completed, e.obj = statusCompleted, at, obj
	s.log.Info("export completed", "site", e.site, "environment", e.env, "export_id", e.id,
		"bytes", obj.body.Size(), "duration", at.Sub(e.created))
}

// store asks the backend for the dump and stores it the way the faults say.
func (s *Server) store(ctx context.Context, e *export, f Faults) (*storedObject, error) {
	body, err := s.backend.Export(ctx, e.site, e.env)
	if err != nil {
		return nil, err
	}
	if f.NoTrailer {
		if body, err = withoutLastLine(body); err != nil {
			return nil, err
		}
	}
	key := "exports/" + e.id + ".sql"
	if f.Gzip || f.CorruptGzip {
		if body, err = s.gzipCopy(ctx, e.id, body, f.CorruptGzip); err != nil {
			return nil, err
		}
		key += ".gz"
	}
	sum := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(body.Size(), 10)))
	return &storedObject{body: body, key: key, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// withoutLastLine returns body without its last line.
func withoutLastLine(body Body) (Body, error) {
	size := body.Size()
	n := min(size, 64<<10)
	tail := make([]byte, n)
	if _, err := body.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read dump tail: %w", err)
	}
	cut := int64(0)
	if i := bytes.LastIndexByte(bytes.TrimSuffix(tail, []byte("\n")), '\n'); i >= 0 {
		cut = size - n + int64(i) + 1
	}
	return io.NewSectionReader(body, 0, cut), nil
}

// fileBody is a Body stored in a file.
type fileBody struct {
	f    *os.File
	size int64
}

func (b fileBody) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }
func (b fileBody) Size() int64                             { return b.size }

// gzipCopy writes the gzip compression of body to a temporary file, with
// constant memory, and returns that file as a Body; corrupt damages bytes
// in the middle of the stream.
func (s *Server) gzipCopy(ctx context.Context, id string, body Body, corrupt bool) (Body, error) {
	f, err := s.createTemp("vectorsim-"+id+"-*.sql.gz", true)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Body, error) {
		s.removeTemp(f.Name())
		_ = f.Close()
		return nil, fmt.Errorf("compress export %s: %w", id, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if _, err := io.Copy(zw, ctxReader{ctx, io.NewSectionReader(body, 0, body.Size())}); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	size := st.Size()
	if corrupt {
		at := size / 2
		n := min(16, size-at-8) // spare the CRC and length at the end
		if n > 0 {
			junk := make([]byte, n)
			if _, err := f.ReadAt(junk, at); err != nil {
				return fail(err)
			}
			for i := range junk {
				junk[i] ^= 0xFF
			}
			if _, err := f.WriteAt(junk, at); err != nil {
				return fail(err)
			}
		}
	}
	return fileBody{f: f, size: size}, nil
}

// ctxReader stops reading when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// mintDownload signs a fresh download URL for a completed export. The caller
// holds e.mu.
func (s *Server) mintDownload(c *call, e *export) (string, time.Time) {
	return s.mintURL(c, e.site, e.obj.key)
}

// mintURL signs a fresh download URL for a stored object of a site, valid
// for Options.URLTTL (or already expired under Faults.ExpiredURLs), and
// returns it with the expiry the API reports.
func (s *Server) mintURL(c *call, site, key string) (string, time.Time) {
	expired := s.takeFault(site, func(f *Faults) bool {
		if f.ExpiredURLs <= 0 {
			return false
		}
		f.ExpiredURLs--
		return true
	})
	ttl := s.opts.URLTTL
	signedAt := c.now
	if expired {
		signedAt = c.now.Add(-ttl - time.Minute)
	}
	return s.presign(c.r, key, nil, signedAt, ttl), c.now.Add(ttl)
}

// openapiExport renders an export as the OpenAPI examples show it. The
// caller holds e.mu.
func (s *Server) openapiExport(e *export, url string, expires time.Time, f Faults) object {
	var size, duration any
	if e.status == statusCompleted {
		size = num(e.obj.body.Size(), f)
	}
	if e.status == statusCompleted || e.status == statusFailed {
		duration = num(e.completed.Sub(e.started).Milliseconds(), f)
	}
	o := object{
		{"id", e.id},
		{"vector_site_id", e.site},
		{"status", e.status},
		{"status_label", label(e.status)},
		{"format", "sql"},
		{"size_bytes", size},
		{"duration_ms", duration},
		{"error_message", nullable(e.errMsg)},
	}
	if e.status == statusCompleted {
		o = append(o, field{"download_url", nullable(url)})
	}
	return append(o,
		field{"download_expires_at", atom(expires)},
		field{"created_at", atom(e.created)},
		field{"started_at", atom(e.started)},
		field{"completed_at", atom(e.completed)},
	)
}

// decodeOptional decodes a JSON request body into v if there is one; a
// missing or malformed body leaves v as it is, as the API treats both as
// empty input.
func decodeOptional(r *http.Request, v any) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return
	}
	_ = json.Unmarshal(body, v)
}
