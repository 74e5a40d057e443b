package vectorsim

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxDirectImport is the size limit of a direct import (10 MB).
	maxDirectImport = 10 << 20
	// maxImportSize is the OpenAPI import sessions' content_length limit.
	maxImportSize = 50 << 30
	// minPartSize is S3's least size of a multipart upload's parts (all but
	// the last). A small Options.PartSize (tests) lowers it to half a part:
	// the least a dump split evenly into part_count parts gives, as a
	// client that does not know the part size splits it.
	minPartSize = 5 << 20
)

// importSession is one import: a session with presigned upload URL(s), or a
// direct import.
type importSession struct {
	id      string
	site    string
	env     string
	created time.Time
	expires time.Time // the session accepts uploads and a run until then

	// What the OpenAPI create request asked for.
	filename      string
	contentLength int64
	providedMD5   string
	scope         string
	dropTables    bool
	disableFK     bool
	searchReplace any
	multipart     bool
	partCount     int
	uploadID      string

	mu         sync.Mutex
	status     string
	parts      map[int]uploadedPart
	uploadedAt time.Time
	s3ETag     string
	runAt      time.Time // zero until run
	queries    int       // status queries since the run
	started    time.Time
	completed  time.Time
	errMsg     string // the outcome, decided at the run
}

type uploadedPart struct {
	path string
	size int64
	md5  string // hex
}

// uploaded reports whether every part is there. The caller holds imp.mu.
func (imp *importSession) uploaded() bool {
	if !imp.multipart {
		return imp.parts[1].path != ""
	}
	for i := 1; i <= imp.partCount; i++ {
		if imp.parts[i].path == "" {
			return false
		}
	}
	return true
}

// store records an uploaded part, replacing an earlier upload of it; it
// refuses once the import ran or the session expired.
func (imp *importSession) store(n int, p uploadedPart, now time.Time, remove func(string)) bool {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if !imp.runAt.IsZero() || now.After(imp.expires) {
		return false
	}
	if old := imp.parts[n]; old.path != "" {
		remove(old.path)
	}
	imp.parts[n] = p
	imp.uploadedAt = now
	if imp.uploaded() {
		imp.status = statusUploaded
	}
	return true
}

func (s *Server) createImport(c *call) {
	if !s.checkSite(c) {
		return
	}
	imp := &importSession{site: c.site, env: c.env, created: c.now, filename: "database.sql",
		dropTables: true, disableFK: true, status: statusPending, parts: map[int]uploadedPart{}}
	if c.openapi && !s.parseImportRequest(c, imp) {
		return
	}
	if !s.spend(c) {
		return
	}
	imp.id = "imp_" + randomID(16)
	if c.openapi {
		imp.id = ulid(c.now)
	}
	imp.expires = c.now.Add(s.opts.ArtifactTTL)
	if c.openapi && imp.contentLength > s.opts.PartSize {
		imp.multipart = true
		imp.partCount = int((imp.contentLength + s.opts.PartSize - 1) / s.opts.PartSize)
		imp.uploadID = randomID(32)
	}
	s.mu.Lock()
	s.imports[imp.id] = imp
	s.mu.Unlock()
	s.log.Info("import session created", "site", c.site, "environment", c.env, "import_id", imp.id)
	f := s.faultsFor(c.site)
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if c.openapi {
		c.reply(http.StatusCreated, s.openapiImport(c, imp, f), "Import session created successfully")
		return
	}
	url := s.presign(c.r, "imports/"+imp.id+".sql", nil, c.now, s.opts.URLTTL)
	c.reply(http.StatusCreated, object{{"import_id", imp.id}, {"upload_url", url},
		{"expires_at", rfc3339(c.now.Add(s.opts.URLTTL))}}, "Import session created successfully")
}

// parseImportRequest validates an OpenAPI import-session request into imp;
// it answers 422 and returns false if the request is invalid.
func (s *Server) parseImportRequest(c *call, imp *importSession) bool {
	var req struct {
		Scope         json.RawMessage `json:"scope"`
		Filename      json.RawMessage `json:"filename"`
		ContentLength json.RawMessage `json:"content_length"`
		ContentMD5    json.RawMessage `json:"content_md5"`
		Options       *struct {
			DropTables         *bool           `json:"drop_tables"`
			DisableForeignKeys *bool           `json:"disable_foreign_keys"`
			SearchReplace      json.RawMessage `json:"search_replace"`
		} `json:"options"`
	}
	decodeOptional(c.r, &req)
	errs := map[string][]string{}
	present := func(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }
	str := func(m json.RawMessage) (string, bool) {
		var v string
		return v, json.Unmarshal(m, &v) == nil
	}
	switch n, ok := jsonInt(req.ContentLength); {
	case !present(req.ContentLength):
		errs["content_length"] = []string{"The content length field is required."}
	case !ok:
		errs["content_length"] = []string{"The content length field must be an integer."}
	case n < 1:
		errs["content_length"] = []string{"The content length field must be at least 1."}
	case n > maxImportSize:
		errs["content_length"] = []string{"The content length field must not be greater than " + strconv.Itoa(maxImportSize) + "."}
	default:
		imp.contentLength = n
	}
	if present(req.ContentMD5) {
		v, ok := str(req.ContentMD5)
		if _, err := hex.DecodeString(v); !ok || len(v) != 32 || err != nil {
			errs["content_md5"] = []string{"The content md5 field must be 32 hexadecimal characters."}
		}
		imp.providedMD5 = strings.ToLower(v)
	}
	if present(req.Scope) {
		if v, ok := str(req.Scope); !ok || v != "database" {
			errs["scope"] = []string{"The selected scope is invalid."}
		} else {
			imp.scope = v
		}
	}
	if present(req.Filename) {
		if v, ok := str(req.Filename); !ok || len(v) > 255 {
			errs["filename"] = []string{"The filename field must be a string of at most 255 characters."}
		} else if v != "" {
			imp.filename = v
		}
	}
	if o := req.Options; o != nil {
		if o.DropTables != nil {
			imp.dropTables = *o.DropTables
		}
		if o.DisableForeignKeys != nil {
			imp.disableFK = *o.DisableForeignKeys
		}
		if present(o.SearchReplace) {
			imp.searchReplace = o.SearchReplace
		}
	}
	if len(errs) > 0 {
		c.fail(http.StatusUnprocessableEntity, "Validation failed", errs)
		return false
	}
	return true
}

// jsonInt reads an integer given as a JSON number or a numeric string.
func jsonInt(m json.RawMessage) (int64, bool) {
	var n int64
	if json.Unmarshal(m, &n) == nil {
		return n, true
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// findImport answers 404 unless the call names an import of its site and
// environment.
func (s *Server) findImport(c *call) *importSession {
	s.mu.Lock()
	imp := s.imports[c.id]
	s.mu.Unlock()
	if imp == nil || imp.site != c.site || imp.env != c.env {
		c.fail(http.StatusNotFound, "Import not found", nil)
		return nil
	}
	return imp
}

func (s *Server) runImport(c *call) {
	if !s.checkSite(c) {
		return
	}
	imp := s.findImport(c)
	if imp == nil {
		return
	}
	var req struct {
		Parts []json.RawMessage `json:"parts"`
	}
	if c.openapi {
		decodeOptional(c.r, &req)
	}
	f := s.faultsFor(c.site)
	imp.mu.Lock()
	defer imp.mu.Unlock()
	switch {
	case !imp.runAt.IsZero():
		c.fail(http.StatusUnprocessableEntity, "Import is not ready to run",
			map[string][]string{"status": {"Import must be in pending or uploaded status"}})
		return
	case c.now.After(imp.expires):
		c.fail(http.StatusUnprocessableEntity, "Import session has expired",
			map[string][]string{"expires_at": {"Please create a new import session"}})
		return
	case !imp.multipart && !imp.uploaded():
		c.fail(http.StatusUnprocessableEntity, "Import is not ready to run",
			map[string][]string{"file": {"The import file has not been uploaded."}})
		return
	}
	etag := imp.parts[1].md5
	if imp.multipart {
		var problem string
		if etag, problem = imp.completeMultipart(req.Parts, min(minPartSize, s.opts.PartSize/2)); problem != "" {
			s.log.Info("multipart upload not completed", "site", imp.site, "environment", imp.env, "import_id", imp.id, "error", problem)
			c.fail(http.StatusUnprocessableEntity, "Failed to finalize upload",
				map[string][]string{"parts": {"Failed to complete multipart upload: " + problem}})
			return
		}
	}
	// The answer is a snapshot from before the import job starts, as the
	// API's example shows it: status "uploaded", no s3_etag yet.
	var answer any
	message := "Database import started"
	if c.openapi {
		answer, message = s.openapiImport(c, imp, f), "Archive import started"
	} else {
		answer = object{{"import_id", imp.id}, {"status", statusPending}}
	}
	imp.runAt, imp.s3ETag = c.now, etag
	imp.errMsg = s.execImport(context.WithoutCancel(c.r.Context()), imp, f)
	c.reply(http.StatusAccepted, answer, message)
}

// completeMultipart checks the parts list of a run request against the
// uploaded parts, as S3's CompleteMultipartUpload and the API do, and
// returns S3's multipart ETag, or what is wrong. Parts may be given as
// {"part_number":N,"etag":"…"} objects or as ETag strings in part order;
// ETags match with or without their quotes. The list must name every part
// of the session once, in ascending order, each with the ETag of its last
// upload; every part but the last must hold at least minPart bytes (S3's
// EntityTooSmall), and together they must hold the session's
// content_length. The caller holds imp.mu.
func (imp *importSession) completeMultipart(parts []json.RawMessage, minPart int64) (etag, problem string) {
	if len(parts) == 0 {
		return "", "the parts field is required for a multipart upload"
	}
	type ref struct {
		PartNumber int    `json:"part_number"`
		ETag       string `json:"etag"`
	}
	refs := make([]ref, len(parts))
	listed := map[int]bool{}
	for i, raw := range parts {
		if err := json.Unmarshal(raw, &refs[i].ETag); err == nil {
			refs[i].PartNumber = i + 1
		} else if err := json.Unmarshal(raw, &refs[i]); err != nil {
			return "", fmt.Sprintf("parts.%d is neither an ETag nor an object with part_number and etag", i)
		}
		listed[refs[i].PartNumber] = true
	}
	all := md5.New()
	var total int64
	for i, ref := range refs {
		n := ref.PartNumber
		switch {
		case n < 1 || n > imp.partCount:
			return "", fmt.Sprintf("parts.%d names part %d; the upload has parts 1 to %d", i, n, imp.partCount)
		case n != i+1 && (n <= i || listed[i+1]):
			return "", fmt.Sprintf("parts.%d names part %d: parts must be listed once each, in ascending order", i, n)
		case n != i+1:
			return "", fmt.Sprintf("part %d is missing from the list", i+1)
		}
		up := imp.parts[n]
		switch {
		case up.path == "":
			return "", fmt.Sprintf("part %d was never uploaded", n)
		case strings.Trim(strings.TrimSpace(ref.ETag), `"`) != up.md5:
			return "", fmt.Sprintf("the ETag of part %d does not match the uploaded part", n)
		case n < imp.partCount && up.size < minPart:
			return "", fmt.Sprintf("part %d holds %d bytes; every part but the last must hold at least %d", n, up.size, minPart)
		}
		total += up.size
		sum, _ := hex.DecodeString(up.md5)
		all.Write(sum)
	}
	switch {
	case len(parts) < imp.partCount:
		return "", fmt.Sprintf("the list names %d of the upload's %d parts", len(parts), imp.partCount)
	case total != imp.contentLength:
		return "", fmt.Sprintf("the parts hold %d bytes; the import session was created for %d", total, imp.contentLength)
	}
	return hex.EncodeToString(all.Sum(nil)) + "-" + strconv.Itoa(imp.partCount), ""
}

// execImport feeds the uploaded file to the backend and returns the
// import's error message ("" on success). Uploads that start with the gzip
// magic bytes are decompressed first. The caller holds imp.mu.
func (s *Server) execImport(ctx context.Context, imp *importSession, f Faults) string {
	defer func() {
		for _, p := range imp.parts {
			s.removeTemp(p.path)
		}
	}()
	if f.ImportFail != "" {
		s.log.Info("import failed", "site", imp.site, "environment", imp.env, "import_id", imp.id, "error", f.ImportFail)
		return f.ImportFail
	}
	if imp.providedMD5 != "" && !imp.multipart && imp.providedMD5 != imp.parts[1].md5 {
		return "The uploaded file does not match the provided MD5 checksum."
	}
	sum, size, err := s.importParts(ctx, imp)
	if err != nil {
		s.log.Info("import failed", "site", imp.site, "environment", imp.env, "import_id", imp.id, "error", err)
		return err.Error()
	}
	s.mu.Lock()
	k := EnvKey{imp.site, imp.env}
	st := s.stats.Imports[k]
	s.stats.Imports[k] = ImportStats{Count: st.Count + 1, LastSize: size, LastSHA256: sum}
	s.mu.Unlock()
	s.log.Info("import completed", "site", imp.site, "environment", imp.env, "import_id", imp.id, "bytes", size)
	return ""
}

// importParts streams the parts, gunzipped if need be, through the
// backend and returns the SQL's SHA-256 and size.
func (s *Server) importParts(ctx context.Context, imp *importSession) (string, int64, error) {
	var readers []io.Reader
	for i := 1; i <= max(1, imp.partCount); i++ {
		fh, err := os.Open(imp.parts[i].path)
		if err != nil {
			return "", 0, fmt.Errorf("open upload: %w", err)
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	br := bufio.NewReaderSize(io.MultiReader(readers...), 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", 0, fmt.Errorf("read gzip upload: %w", err)
		}
		src = zr
	}
	h := sha256.New()
	cnt := &counter{}
	tee := io.TeeReader(src, io.MultiWriter(h, cnt))
	err := s.backend.Import(ctx, imp.site, imp.env, tee)
	if err == nil {
		_, err = io.Copy(io.Discard, tee) // hash what the backend left unread
	}
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cnt.n, nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func (s *Server) importStatus(c *call) {
	if !s.checkSite(c) {
		return
	}
	imp := s.findImport(c)
	if imp == nil {
		return
	}
	f := s.faultsFor(c.site)
	imp.mu.Lock()
	defer imp.mu.Unlock()
	s.advanceImport(imp, c.now)
	s.mu.Lock()
	s.stats.ImportStatusQueries++
	s.mu.Unlock()
	if c.openapi {
		c.reply(http.StatusOK, s.openapiImport(c, imp, f), "Import retrieved successfully")
		return
	}
	status := imp.status
	if status == statusUploaded {
		status = statusPending // the documentation's "upload complete, waiting to run"
	}
	data := object{{"import_id", imp.id}, {"status", status},
		{"started_at", rfc3339(imp.started)}, {"completed_at", rfc3339(imp.completed)}}
	if status == statusFailed {
		data = append(data, field{"error_message", imp.errMsg})
	}
	c.reply(http.StatusOK, data, "Import retrieved successfully")
}

// advanceImport moves a run import along at a status query, by the same
// rule as exports, counted from the run. The caller holds imp.mu.
func (s *Server) advanceImport(imp *importSession, now time.Time) {
	if imp.runAt.IsZero() || imp.status == statusCompleted || imp.status == statusFailed {
		return
	}
	imp.queries++
	pt := s.opts.ProcessingTime
	imp.status, imp.started = statusProcessing, imp.runAt
	ready, at := imp.queries >= 2, now
	if pt > 0 {
		ready, at = !now.Before(imp.runAt.Add(pt)), imp.runAt.Add(pt)
	}
	if !ready {
		return
	}
	imp.completed = at
	imp.status = statusCompleted
	if imp.errMsg != "" {
		imp.status = statusFailed
	}
	if imp.scope == "" {
		imp.scope = "full" // as the API reports a finished import
	}
}

// openapiImport renders an import as the OpenAPI examples show it; a
// pending session that has not expired gets fresh upload URL(s). The caller
// holds imp.mu.
func (s *Server) openapiImport(c *call, imp *importSession, f Faults) object {
	var partCount, duration any
	if imp.multipart {
		partCount = num(int64(imp.partCount), f)
	}
	if imp.status == statusCompleted || imp.status == statusFailed {
		duration = num(imp.completed.Sub(imp.started).Milliseconds(), f)
	}
	o := object{
		{"id", imp.id},
		{"vector_site_id", imp.site},
		{"status", imp.status},
		{"status_label", label(imp.status)},
		{"scope", nullable(imp.scope)},
	}
	if imp.scope != "" {
		o = append(o, field{"scope_label", label(imp.scope)})
	}
	o = append(o,
		field{"filename", imp.filename},
		field{"content_length", num(imp.contentLength, f)},
		field{"is_multipart", imp.multipart},
		field{"part_count", partCount},
		field{"checksum", object{{"provided_md5", nullable(imp.providedMD5)}, {"s3_etag", nullable(imp.s3ETag)}}},
		field{"metadata", nil},
		field{"options", object{{"drop_tables", imp.dropTables}, {"disable_foreign_keys", imp.disableFK},
			{"search_replace", imp.searchReplace}}},
		field{"duration_ms", duration},
		field{"error_message", nullable(imp.errMsg)},
		field{"created_at", atom(imp.created)},
		field{"uploaded_at", atom(imp.uploadedAt)},
		field{"started_at", atom(imp.started)},
		field{"completed_at", atom(imp.completed)},
	)
	if imp.status != statusPending || !c.now.Before(imp.expires) {
		return o
	}
	if imp.multipart {
		var parts []object
		for i := 1; i <= imp.partCount; i++ {
			url := s.presign(c.r, "imports/"+imp.id+".sql",
				[][2]string{{"partNumber", strconv.Itoa(i)}, {"uploadId", imp.uploadID}}, c.now, s.opts.URLTTL)
			parts = append(parts, object{{"part_number", i}, {"url", url}})
		}
		o = append(o, field{"upload_id", imp.uploadID}, field{"upload_parts", parts})
	} else {
		o = append(o, field{"upload_url", s.presign(c.r, "imports/"+imp.id+".sql", nil, c.now, s.opts.URLTTL)})
	}
	return append(o, field{"upload_expires_at", atom(c.now.Add(s.opts.URLTTL))})
}

func (s *Server) directImport(c *call) {
	if !s.checkSite(c) {
		return
	}
	path, size, sum, ok := s.receiveDirect(c)
	if !ok {
		return
	}
	if !s.spend(c) {
		s.removeTemp(path)
		return
	}
	imp := &importSession{id: "imp_" + randomID(16), site: c.site, created: c.now, expires: c.now.Add(s.opts.ArtifactTTL),
		filename: "database.sql", status: statusUploaded, uploadedAt: c.now,
		parts: map[int]uploadedPart{1: {path: path, size: size, md5: sum}}, s3ETag: sum}
	s.mu.Lock()
	s.imports[imp.id] = imp
	s.mu.Unlock()
	f := s.faultsFor(c.site)
	imp.mu.Lock()
	defer imp.mu.Unlock()
	imp.runAt = c.now
	imp.errMsg = s.execImport(context.WithoutCancel(c.r.Context()), imp, f)
	c.reply(http.StatusAccepted, object{{"import_id", imp.id}, {"status", statusPending}}, "Database import started")
}

// receiveDirect stores the multipart field "file" of a direct import in a
// temporary file; it answers 422 and returns ok false if there is none or
// it is over 10 MB.
func (s *Server) receiveDirect(c *call) (path string, size int64, md5hex string, ok bool) {
	mr, err := c.r.MultipartReader()
	if err != nil {
		c.invalid("file", "The file field is required.")
		return "", 0, "", false
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			c.invalid("file", "The file field is required.")
			return "", 0, "", false
		}
		if err != nil {
			c.invalid("file", "The file failed to upload.")
			return "", 0, "", false
		}
		if p.FormName() != "file" {
			_, _ = io.Copy(io.Discard, io.LimitReader(p, 1<<20))
			continue
		}
		f, err := s.createTemp("vectorsim-direct-*", false)
		if err != nil {
			c.fail(http.StatusInternalServerError, "Server Error", nil)
			return "", 0, "", false
		}
		h := md5.New()
		n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(p, maxDirectImport+1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		switch {
		case err != nil:
			s.removeTemp(f.Name())
			c.invalid("file", "The file failed to upload.")
			return "", 0, "", false
		case n > maxDirectImport:
			s.removeTemp(f.Name())
			c.invalid("file", "The file field must not be greater than 10240 kilobytes.")
			return "", 0, "", false
		}
		return f.Name(), n, hex.EncodeToString(h.Sum(nil)), true
	}
}
