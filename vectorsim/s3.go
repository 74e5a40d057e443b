package vectorsim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	amzDateFormat = "20060102T150405Z"
	accessKeyID   = "AKIAVECTORSIMULATOR0"
	maxPutSize    = 5 << 30 // S3's limit for one PUT
)

// presign returns a presigned URL for key on the host the API request came
// in on, signed at signedAt and valid for ttl. extra holds query parameters
// that are signed too (partNumber, uploadId).
func (s *Server) presign(req *http.Request, key string, extra [][2]string, signedAt time.Time, ttl time.Duration) string {
	path := "/s3/" + s.opts.Bucket + "/" + key
	date := signedAt.UTC().Format(amzDateFormat)
	cred := accessKeyID + "/" + signedAt.UTC().Format("20060102") + "/us-east-1/s3/aws4_request"
	expires := strconv.FormatInt(max(1, int64(ttl/time.Second)), 10)
	var q strings.Builder
	var extras []string
	for _, kv := range extra {
		q.WriteString(kv[0] + "=" + url.QueryEscape(kv[1]) + "&")
		extras = append(extras, kv[0]+"="+kv[1])
	}
	q.WriteString("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + url.QueryEscape(cred) +
		"&X-Amz-Date=" + date + "&X-Amz-Expires=" + expires + "&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=" + s.signature(path, cred, date, expires, extras))
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host + path + "?" + q.String()
}

// signature is the hex HMAC-SHA256, under the server's secret, of what a
// presigned URL pins down.
func (s *Server) signature(path, cred, date, expires string, extras []string) string {
	m := hmac.New(sha256.New, s.secret)
	io.WriteString(m, strings.Join(append([]string{path, cred, date, expires, "host"}, extras...), "\n"))
	return hex.EncodeToString(m.Sum(nil))
}

// s3Error is an error answer in S3's XML format.
type s3Error struct {
	status  int
	code    string
	message string
	extra   [][2]string // further elements, in order
}

func (s *Server) writeS3Error(w http.ResponseWriter, req *http.Request, e s3Error) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", requestID())
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>")
	xmlText(&b, e.code)
	b.WriteString("</Code><Message>")
	xmlText(&b, e.message)
	b.WriteString("</Message>")
	for _, kv := range e.extra {
		b.WriteString("<" + kv[0] + ">")
		xmlText(&b, kv[1])
		b.WriteString("</" + kv[0] + ">")
	}
	b.WriteString("<RequestId>" + requestID() + "</RequestId><HostId>vectorsim</HostId></Error>")
	if req.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(b.Len()))
	}
	w.WriteHeader(e.status)
	if req.Method != http.MethodHead {
		_, _ = io.WriteString(w, b.String())
	}
}

func xmlText(b *strings.Builder, s string) { _ = xml.EscapeText(b, []byte(s)) }

func requestID() string { return strings.ToUpper(randomID(16)) }

var (
	errAccessDenied  = s3Error{status: http.StatusForbidden, code: "AccessDenied", message: "Access Denied"}
	errSignature     = s3Error{status: http.StatusForbidden, code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	errMethod        = s3Error{status: http.StatusMethodNotAllowed, code: "MethodNotAllowed", message: "The specified method is not allowed against this resource."}
	errAuthMechanism = s3Error{status: http.StatusBadRequest, code: "InvalidArgument",
		message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
		extra:   [][2]string{{"ArgumentName", "Authorization"}}}
	errQueryParams = s3Error{status: http.StatusBadRequest, code: "AuthorizationQueryParametersError",
		message: "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."}
)

func noSuchKey(key string) s3Error {
	return s3Error{status: http.StatusNotFound, code: "NoSuchKey", message: "The specified key does not exist.", extra: [][2]string{{"Key", key}}}
}

// serveS3 serves presigned requests for stored objects: GET and HEAD of
// exports and backup archives, PUT of imports.
func (s *Server) serveS3(w http.ResponseWriter, req *http.Request) {
	now := s.opts.Now()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/s3/"), "/")
	if bucket != s.opts.Bucket {
		s.writeS3Error(w, req, s3Error{status: http.StatusNotFound, code: "NoSuchBucket",
			message: "The specified bucket does not exist", extra: [][2]string{{"BucketName", bucket}}})
		return
	}
	q := req.URL.Query()
	presigned := q.Has("X-Amz-Signature") || q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential")
	if presigned && req.Header.Get("Authorization") != "" {
		s.mu.Lock()
		s.stats.AuthOnPresigned++
		s.mu.Unlock()
		s.writeS3Error(w, req, errAuthMechanism)
		return
	}
	if !presigned {
		s.writeS3Error(w, req, errAccessDenied)
		return
	}
	if e := s.verify(req.URL.Path, q, now); e != nil {
		s.writeS3Error(w, req, *e)
		return
	}
	switch {
	case strings.HasPrefix(key, "exports/"):
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			s.writeS3Error(w, req, errMethod)
			return
		}
		s.serveExport(w, req, key, now)
	case strings.HasPrefix(key, "backups/downloads/"):
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			s.writeS3Error(w, req, errMethod)
			return
		}
		s.serveBackupDownload(w, req, key, now)
	case strings.HasPrefix(key, "imports/"):
		if req.Method != http.MethodPut {
			s.writeS3Error(w, req, errMethod)
			return
		}
		s.upload(w, req, key, now)
	default:
		s.writeS3Error(w, req, noSuchKey(key))
	}
}

// verify checks a presigned request's signature, then its expiry.
func (s *Server) verify(path string, q url.Values, now time.Time) *s3Error {
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get("X-Amz-SignedHeaders") != "host" {
		return &errQueryParams
	}
	date, expires, cred := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Credential")
	signedAt, err := time.Parse(amzDateFormat, date)
	if err != nil {
		return &errQueryParams
	}
	secs, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || secs < 1 || secs > 604800 {
		return &errQueryParams
	}
	var extras []string
	for _, k := range []string{"partNumber", "uploadId"} {
		if q.Has(k) {
			extras = append(extras, k+"="+q.Get(k))
		}
	}
	want, _ := hex.DecodeString(s.signature(path, cred, date, expires, extras))
	got, err := hex.DecodeString(q.Get("X-Amz-Signature"))
	if err != nil || !hmac.Equal(want, got) {
		return &errSignature
	}
	expiry := signedAt.Add(time.Duration(secs) * time.Second)
	if now.After(expiry) {
		return &s3Error{status: http.StatusForbidden, code: "AccessDenied", message: "Request has expired",
			extra: [][2]string{{"X-Amz-Expires", expires}, {"Expires", expiry.UTC().Format(time.RFC3339)},
				{"ServerTime", now.UTC().Format(time.RFC3339)}}}
	}
	return nil
}

// serveExport serves GET and HEAD of a completed export's object.
func (s *Server) serveExport(w http.ResponseWriter, req *http.Request, key string, now time.Time) {
	id := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(key, "exports/"), ".gz"), ".sql")
	s.mu.Lock()
	e := s.exports[id]
	s.mu.Unlock()
	if e == nil {
		s.writeS3Error(w, req, noSuchKey(key))
		return
	}
	e.mu.Lock()
	obj, completed := e.obj, e.completed
	e.mu.Unlock()
	if obj == nil || obj.key != key || !now.Before(completed.Add(s.opts.ArtifactTTL)) {
		s.writeS3Error(w, req, noSuchKey(key))
		return
	}
	s.serveObject(w, req, obj, completed, e.site, "site", e.site, "environment", e.env, "export_id", e.id)
}

// serveObject serves GET and HEAD of a stored object completed at
// completed, with Range and If-Range, under the site's download faults
// (CutAfter, SlowBody, WrongLength); logArgs describe it in the log.
func (s *Server) serveObject(w http.ResponseWriter, req *http.Request, obj *storedObject, completed time.Time,
	site string, logArgs ...any) {
	f := s.faultsFor(site)
	size := obj.body.Size()
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	lastModified := completed.UTC().Format(http.TimeFormat)
	h.Set("ETag", obj.etag)
	h.Set("Last-Modified", lastModified)
	h.Set("x-amz-request-id", requestID())

	start, n, status := int64(0), size, http.StatusOK
	rangeHeader := req.Header.Get("Range")
	if ir := req.Header.Get("If-Range"); ir != "" && !ifRangeMatches(ir, obj.etag, lastModified) {
		rangeHeader = "" // the object changed: the whole of it
	}
	get := req.Method == http.MethodGet
	if get && req.Header.Get("Range") != "" {
		s.mu.Lock()
		s.stats.RangeRequests++
		s.mu.Unlock()
	}
	if rangeHeader != "" {
		first, last, kind := parseRange(rangeHeader, size)
		switch kind {
		case rangeUnsatisfiable:
			h.Del("ETag")
			h.Del("Last-Modified")
			h.Del("Accept-Ranges")
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			s.writeS3Error(w, req, s3Error{status: http.StatusRequestedRangeNotSatisfiable, code: "InvalidRange",
				message: "The requested range is not satisfiable",
				extra:   [][2]string{{"RangeRequested", rangeHeader}, {"ActualObjectSize", strconv.FormatInt(size, 10)}}})
			return
		case rangeSatisfiable:
			start, n, status = first, last-first+1, http.StatusPartialContent
			h.Set("Content-Range", "bytes "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(last, 10)+"/"+strconv.FormatInt(size, 10))
		}
	}
	if !get {
		h.Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(status)
		return
	}
	cutAt := int64(-1)
	s.takeFault(site, func(f *Faults) bool {
		if f.CutTimes <= 0 || f.CutAfter >= n {
			return false
		}
		f.CutTimes--
		cutAt = max(0, f.CutAfter)
		return true
	})
	h.Set("Content-Length", strconv.FormatInt(n+max(0, f.WrongLength), 10))
	s.mu.Lock()
	s.stats.Downloads++
	s.mu.Unlock()
	s.log.Debug("download started", append(logArgs, "bytes", n, "offset", start)...)
	w.WriteHeader(status)
	complete := s.copyBody(w, req, obj.body, start, n, cutAt, f.SlowBody)
	if !complete || f.WrongLength > 0 {
		cut(w)
	}
}

// copyBody writes n bytes of body from start, stopping early after cutAt
// bytes (when cutAt >= 0) and pacing the writes to bps bytes per second
// (when bps > 0). It reports whether all n bytes went out.
func (s *Server) copyBody(w http.ResponseWriter, req *http.Request, body Body, start, n, cutAt, bps int64) bool {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	limit := n
	if cutAt >= 0 && cutAt < n {
		limit = cutAt
	}
	begin := time.Now()
	var sent int64
	for sent < limit {
		chunk := int64(len(buf))
		if bps > 0 {
			chunk = min(chunk, max(1, bps/10))
		}
		chunk = min(chunk, limit-sent)
		m, err := body.ReadAt(buf[:chunk], start+sent)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return false
			}
			sent += int64(m)
		}
		if err != nil && (err != io.EOF || sent < limit) {
			s.log.Info("read export body", "bytes", sent, "error", err)
			return false
		}
		if bps > 0 {
			due := begin.Add(time.Duration(float64(sent) / float64(bps) * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-req.Context().Done():
					t.Stop()
					return false
				}
			}
		}
	}
	return sent == n
}

// cut flushes what was written and closes the connection, so that a
// client expecting more bytes sees an unexpected EOF.
func cut(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	closeConn(conn)
}

// ifRangeMatches reports whether an If-Range validator names the object as
// stored (RFC 9110 §13.1.5): its entity tag, compared strongly (a weak tag
// never matches), or exactly its Last-Modified date.
func ifRangeMatches(v, etag, lastModified string) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return v == etag
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(lastModified)
	return err == nil && at.Equal(lm)
}

// Range header kinds.
const (
	rangeIgnored = iota
	rangeSatisfiable
	rangeUnsatisfiable
)

// parseRange interprets a Range header for an object of size bytes as S3
// does: one range of the forms bytes=N-, bytes=N-M or bytes=-N is honoured
// (last is clamped to the object); several ranges, other units and
// malformed headers are ignored (the whole object is served); a range that
// starts at or past the end, or an empty suffix, is unsatisfiable.
func parseRange(h string, size int64) (first, last int64, kind int) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, rangeIgnored
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, rangeIgnored
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" {
		n, ok := digits(b)
		if !ok {
			return 0, 0, rangeIgnored
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return size - min(n, size), size - 1, rangeSatisfiable
	}
	first, ok = digits(a)
	if !ok {
		return 0, 0, rangeIgnored
	}
	last = size - 1
	if b != "" {
		if last, ok = digits(b); !ok || last < first {
			return 0, 0, rangeIgnored
		}
	}
	if first >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return first, min(last, size-1), rangeSatisfiable
}

// digits parses a non-negative decimal made of ASCII digits only.
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// upload stores a PUT to an import's presigned URL (a whole file or one
// part of a multipart session) in a temporary file.
func (s *Server) upload(w http.ResponseWriter, req *http.Request, key string, now time.Time) {
	id := strings.TrimSuffix(strings.TrimPrefix(key, "imports/"), ".sql")
	s.mu.Lock()
	imp := s.imports[id]
	s.mu.Unlock()
	if imp == nil {
		s.writeS3Error(w, req, errAccessDenied)
		return
	}
	if req.ContentLength < 0 {
		s.writeS3Error(w, req, s3Error{status: http.StatusLengthRequired, code: "MissingContentLength",
			message: "You must provide the Content-Length HTTP header."})
		return
	}
	if req.ContentLength > maxPutSize {
		s.writeS3Error(w, req, s3Error{status: http.StatusBadRequest, code: "EntityTooLarge",
			message: "Your proposed upload exceeds the maximum allowed size",
			extra:   [][2]string{{"ProposedSize", strconv.FormatInt(req.ContentLength, 10)}, {"MaxSizeAllowed", strconv.Itoa(maxPutSize)}}})
		return
	}
	q := req.URL.Query()
	part := 1
	if imp.multipart {
		p, err := strconv.Atoi(q.Get("partNumber"))
		if err != nil || p < 1 || p > imp.partCount || q.Get("uploadId") != imp.uploadID {
			s.writeS3Error(w, req, s3Error{status: http.StatusNotFound, code: "NoSuchUpload",
				message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
				extra:   [][2]string{{"UploadId", q.Get("uploadId")}}})
			return
		}
		part = p
	}
	f, err := s.createTemp("vectorsim-import-"+id+"-*", false)
	if err != nil {
		s.writeS3Error(w, req, s3Error{status: http.StatusInternalServerError, code: "InternalError",
			message: "We encountered an internal error. Please try again."})
		return
	}
	sum := md5.New()
	n, err := io.Copy(io.MultiWriter(f, sum), req.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != req.ContentLength {
		s.removeTemp(f.Name())
		s.writeS3Error(w, req, s3Error{status: http.StatusBadRequest, code: "IncompleteBody",
			message: "You did not provide the number of bytes specified by the Content-Length HTTP header."})
		return
	}
	etag := hex.EncodeToString(sum.Sum(nil))
	if !imp.store(part, uploadedPart{path: f.Name(), size: n, md5: etag}, now, s.removeTemp) {
		s.removeTemp(f.Name())
		s.writeS3Error(w, req, errAccessDenied)
		return
	}
	s.mu.Lock()
	s.stats.Uploads++
	s.mu.Unlock()
	s.log.Debug("import uploaded", "site", imp.site, "environment", imp.env, "import_id", imp.id, "bytes", n)
	w.Header().Set("ETag", `"`+etag+`"`)
	w.Header().Set("x-amz-request-id", requestID())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
