package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/builtfast/vectord/catalog"
)

// maxBodyBytes bounds a request body; larger ones answer 413.
const maxBodyBytes = 64 << 10

// nameRE is a configured site or environment name.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// idPrefixRE is a catalog id (a 26-character ULID) or a prefix of one, in
// either case.
var idPrefixRE = regexp.MustCompile(`^[0-9A-Za-z]{1,26}$`)

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/backups", s.listBackups)
	api.HandleFunc("POST /api/v1/backups", s.startBackup)
	api.HandleFunc("/api/v1/backups", methodNotAllowed("GET, HEAD, POST"))
	api.HandleFunc("GET /api/v1/backups/{id}", s.getBackup)
	api.HandleFunc("DELETE /api/v1/backups/{id}", s.forgetBackup)
	api.HandleFunc("/api/v1/backups/{id}", methodNotAllowed("GET, HEAD, DELETE"))
	api.HandleFunc("PUT /api/v1/backups/{id}/pin", s.pinBackup(true))
	api.HandleFunc("DELETE /api/v1/backups/{id}/pin", s.pinBackup(false))
	api.HandleFunc("/api/v1/backups/{id}/pin", methodNotAllowed("PUT, DELETE"))
	api.HandleFunc("POST /api/v1/prune", s.prune)
	api.HandleFunc("/api/v1/prune", methodNotAllowed("POST"))
	api.HandleFunc("POST /api/v1/check", s.check)
	api.HandleFunc("/api/v1/check", methodNotAllowed("POST"))
	api.HandleFunc("GET /api/v1/jobs/{job_id}", s.job)
	api.HandleFunc("DELETE /api/v1/jobs/{job_id}", s.cancelJob)
	api.HandleFunc("/api/v1/jobs/{job_id}", methodNotAllowed("GET, HEAD, DELETE"))
	api.HandleFunc("GET /api/v1/status", s.statusReport)
	api.HandleFunc("/api/v1/status", methodNotAllowed("GET, HEAD"))
	api.HandleFunc("POST /api/v1/budget", s.admit)
	api.HandleFunc("/api/v1/budget", methodNotAllowed("POST"))
	api.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s", r.URL.Path))
	})

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeText(w, http.StatusServiceUnavailable, "draining for shutdown\n")
			return
		}
		if !s.ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	mux.Handle("/api/v1/", s.authorize(csrf.Handler(api)))
	return s.logRequests(mux)
}

// authorize admits a control API request: with a token configured, one
// that carries it; without, one addressed to a loopback host name.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := s.token.Load()
		if want == nil {
			if !isLoopbackHost(requestHost(r)) {
				writeError(w, http.StatusForbidden, "no control token is configured: the control API answers only requests addressed to localhost")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vectord"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token: the control API requires Authorization: Bearer <control token>")
			return
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vectord", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "wrong control token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header value; the scheme is case-insensitive.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// requestHost returns the host name of r's Host header, without port.
func requestHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use %s", r.Method, allow))
	}
}

// listBackups answers GET /api/v1/backups?site=&env=&limit=&after=: one
// page of records, streamed as it is encoded, with a Link to the next.
func (s *Server) listBackups(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	recs, next, err := s.backups.Page(r.Context(), q.filter, q.after, q.limit)
	if err != nil {
		s.fail(w, r, "list backups", err, "site", q.filter.Site, "environment", q.filter.Environment)
		return
	}
	if next != "" {
		w.Header().Set("Link", nextLink(q.filter, next, q.limit))
	}
	s.writeRecords(w, recs)
}

// listQuery is the query of GET /api/v1/backups.
type listQuery struct {
	filter catalog.Filter
	after  string
	limit  int
}

// parseListQuery reads the query of GET /api/v1/backups: site and env,
// each a name or empty; limit, 1 to MaxPageSize (empty:
// catalog.DefaultPageSize); after, a catalog id or empty; each at most
// once. Errors name the parameter at fault.
func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{limit: catalog.DefaultPageSize}
	for k, v := range q {
		switch k {
		case "site", "env", "limit", "after":
		default:
			return listQuery{}, fmt.Errorf("unknown query parameter %q: want site, env, limit, after", k)
		}
		if len(v) > 1 {
			return listQuery{}, fmt.Errorf("query parameter %s given %d times", k, len(v))
		}
		switch k {
		case "site", "env":
			if v[0] != "" && !nameRE.MatchString(v[0]) {
				return listQuery{}, fmt.Errorf("query parameter %s: %q is not a name ([a-z0-9][a-z0-9_-]*)", k, v[0])
			}
			if k == "site" {
				lq.filter.Site = v[0]
			} else {
				lq.filter.Environment = v[0]
			}
		case "limit":
			if v[0] == "" {
				continue
			}
			n, err := strconv.Atoi(v[0])
			if err != nil {
				return listQuery{}, fmt.Errorf("query parameter limit: %q is not a whole number (want 1 to %d)", v[0], MaxPageSize)
			}
			if n < 1 || n > MaxPageSize {
				return listQuery{}, fmt.Errorf("query parameter limit: %d is out of range (want 1 to %d)", n, MaxPageSize)
			}
			lq.limit = n
		case "after":
			if v[0] != "" && !idPrefixRE.MatchString(v[0]) {
				return listQuery{}, fmt.Errorf("query parameter after: %q is not a backup id", v[0])
			}
			lq.after = strings.ToLower(v[0])
		}
	}
	return lq, nil
}

// nextLink is the Link header value that points at the page after next.
func nextLink(f catalog.Filter, next string, limit int) string {
	var b strings.Builder
	b.WriteString("</api/v1/backups?")
	if f.Site != "" {
		b.WriteString("site=" + url.QueryEscape(f.Site) + "&")
	}
	if f.Environment != "" {
		b.WriteString("env=" + url.QueryEscape(f.Environment) + "&")
	}
	b.WriteString("after=" + url.QueryEscape(next) + "&limit=" + strconv.Itoa(limit))
	b.WriteString(`>; rel="next"`)
	return b.String()
}

// writeRecords answers 200 with recs as a JSON array, encoding one record
// at a time straight to w: the answer is never held in memory whole. The
// bytes are those json.Encoder writes for the slice.
func (s *Server) writeRecords(w http.ResponseWriter, recs []catalog.Record) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// encode puts one record, preceded by sep, in buf without its newline.
	encode := func(sep byte, r catalog.Record) error {
		buf.Reset()
		buf.WriteByte(sep)
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode backup %s: %w", r.ID, err)
		}
		buf.Truncate(buf.Len() - 1)
		return nil
	}
	if len(recs) > 0 {
		// The first record before the status: a failure can still say so.
		if err := encode('[', recs[0]); err != nil {
			s.log.Error("list backups", "error", err)
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if len(recs) == 0 {
		io.WriteString(w, "[]\n")
		return
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return // the client went away
	}
	for _, r := range recs[1:] {
		if err := encode(',', r); err != nil {
			// Too late for an error status: cut the answer short so that
			// the client sees a broken one, not a shorter list.
			s.log.Error("list backups", "error", err)
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
	}
	io.WriteString(w, "]\n")
}

// resolve answers the {id} of the request's path with the full id of the
// one backup it names (a unique prefix will do), or writes the error
// answer and returns false.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) (string, bool) {
	prefix := r.PathValue("id")
	if !idPrefixRE.MatchString(prefix) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("backup id %q: want a catalog id or a prefix of one (up to 26 letters and digits)", prefix))
		return "", false
	}
	id, err := s.backups.Resolve(r.Context(), prefix)
	if err != nil {
		s.fail(w, r, "resolve backup id", err, "id", prefix)
		return "", false
	}
	return id, true
}

// getBackup answers GET /api/v1/backups/{id}: one record.
func (s *Server) getBackup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.resolve(w, r)
	if !ok {
		return
	}
	rec, err := s.backups.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, "get backup", err, "id", id)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// forgetBackup answers DELETE /api/v1/backups/{id}: 200 with the full id
// of the backup deleted.
func (s *Server) forgetBackup(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		notSupported(w)
		return
	}
	id, ok := s.resolve(w, r)
	if !ok {
		return
	}
	unlimitedWrite(w)
	if err := s.admin.Forget(r.Context(), id); err != nil {
		s.fail(w, r, "forget backup", err, "id", id)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID string `json:"id"`
	}{id})
}

// pinBackup answers PUT (pinned) and DELETE (not) /api/v1/backups/{id}/pin
// with 204.
func (s *Server) pinBackup(pinned bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.admin == nil {
			notSupported(w)
			return
		}
		id, ok := s.resolve(w, r)
		if !ok {
			return
		}
		if err := s.admin.Pin(r.Context(), id, pinned); err != nil {
			s.fail(w, r, "pin backup", err, "id", id, "pinned", pinned)
			return
		}
		noContent(w)
	}
}

// pruneRequest is the body of POST /api/v1/prune.
type pruneRequest struct {
	DryRun bool `json:"dry_run"`
}

// prune answers POST /api/v1/prune: 200 with the Admin's report.
func (s *Server) prune(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		notSupported(w)
		return
	}
	var req pruneRequest
	if !decodeAdminBody(w, r, &req, `{"dry_run":true}`) {
		return
	}
	unlimitedWrite(w)
	report, err := s.admin.Prune(r.Context(), req.DryRun)
	if err != nil {
		s.fail(w, r, "prune", err, "dry_run", req.DryRun)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// checkRequest is the body of POST /api/v1/check.
type checkRequest struct {
	Repair   bool `json:"repair"`
	ReadData bool `json:"read_data"`
}

// checkAnswer is the answer of POST /api/v1/check.
type checkAnswer struct {
	OK     bool            `json:"ok"`
	Report json.RawMessage `json:"report"`
}

// check answers POST /api/v1/check: 200 with {"ok","report"}, also when
// the check found problems.
func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		notSupported(w)
		return
	}
	var req checkRequest
	if !decodeAdminBody(w, r, &req, `{"repair":false,"read_data":false}`) {
		return
	}
	unlimitedWrite(w)
	report, ok, err := s.admin.Check(r.Context(), req.Repair, req.ReadData)
	if err != nil {
		s.fail(w, r, "check", err, "repair", req.Repair, "read_data", req.ReadData)
		return
	}
	writeJSON(w, http.StatusOK, checkAnswer{OK: ok, Report: report})
}

// decodeAdminBody decodes the request body into v as decodeBody does, or
// writes the error answer (400, or 413 for a body too large) and returns
// false.
func decodeAdminBody(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	err := decodeBody(http.MaxBytesReader(w, r.Body, maxBodyBytes), v, example)
	if err == nil {
		return true
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
		return false
	}
	writeError(w, http.StatusBadRequest, err.Error())
	return false
}

// unlimitedWrite lifts the http.Server's write timeout from this answer:
// a prune, check or forget may take longer than it; the client's going
// away still cancels the request's context. Writers that cannot (a test's
// recorder) are left as they are.
func unlimitedWrite(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// errorStatus is the HTTP status that answers err.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, catalog.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrAmbiguous), errors.Is(err, catalog.ErrAmbiguous):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid), errors.Is(err, catalog.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrNotSupported):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// fail writes the error answer for err, unless the client has gone away;
// a 500 is also logged, with what failed and attrs.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error, attrs ...any) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	code := errorStatus(err)
	if code == http.StatusInternalServerError {
		s.log.Error(what, append(attrs, "error", err)...)
	}
	writeError(w, code, err.Error())
}

func notSupported(w http.ResponseWriter) {
	writeError(w, http.StatusNotImplemented, "not supported by this daemon")
}

func noContent(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// startBackup answers POST /api/v1/backups.
func (s *Server) startBackup(w http.ResponseWriter, r *http.Request) {
	req, err := decodeBackupRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id, err := s.jobs.Submit(req.Site, req.Environment, req.Trigger, req.Reason)
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrInvalid):
			code = http.StatusBadRequest
		case errors.Is(err, ErrUnavailable):
			code = http.StatusServiceUnavailable
		default:
			s.log.Error("start backup", "site", req.Site, "environment", req.Environment, "error", err)
		}
		writeError(w, code, err.Error())
		return
	}
	w.Header().Set("Location", "/api/v1/jobs/"+url.PathEscape(id))
	writeJSON(w, http.StatusAccepted, struct {
		JobID string `json:"job_id"`
	}{id})
}

// job answers GET /api/v1/jobs/{job_id}.
func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job_id")
	st, ok := s.jobs.Status(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown job %q", id))
		return
	}
	if st.JobID == "" {
		st.JobID = id
	}
	writeJSON(w, http.StatusOK, st)
}

// statusReport answers GET /api/v1/status (CONTRACT §7).
func (s *Server) statusReport(w http.ResponseWriter, r *http.Request) {
	if s.status == nil {
		notSupported(w)
		return
	}
	raw, err := s.status(r.Context())
	if err != nil {
		s.fail(w, r, "status", err)
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

// cancelJob answers DELETE /api/v1/jobs/{job_id}: 204 when the job was
// ended, 404 for an unknown or finished one.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job_id")
	if !s.jobs.Cancel(id) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no unfinished job %q", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// admitRequest is the body of POST /api/v1/budget.
type admitRequest struct {
	Op  string `json:"op"`
	Ref string `json:"ref"`
}

// admit answers POST /api/v1/budget once the daemon's budget admits one
// database operation: a command beside the daemon (restore's import)
// spends from the daemon's ledger before it sends its request.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) {
	var req admitRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Op == "" {
		writeError(w, http.StatusBadRequest, `want {"op": "import", "ref": "..."}`)
		return
	}
	unlimitedWrite(w)
	if err := s.jobs.Admit(r.Context(), req.Op, req.Ref); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Admitted bool `json:"admitted"`
	}{true})
}

// backupRequest is the body of POST /api/v1/backups.
type backupRequest struct {
	Site        string `json:"site"`
	Environment string `json:"environment"`
	Reason      string `json:"reason"`
	Trigger     string `json:"trigger"`
}

// decodeBackupRequest reads one JSON object from r: no unknown fields, no
// data after it, site required, no control characters, trigger manual
// (the default) or pre-import. Errors wrap the reader's error (for example
// an *http.MaxBytesError) or say what is wrong with the body.
func decodeBackupRequest(r io.Reader) (backupRequest, error) {
	var req backupRequest
	if err := decodeBody(r, &req, `{"site":"acme"}`); err != nil {
		return backupRequest{}, err
	}
	for _, f := range []struct{ name, v string }{
		{"site", req.Site}, {"environment", req.Environment}, {"reason", req.Reason}, {"trigger", req.Trigger},
	} {
		if strings.ContainsFunc(f.v, unicode.IsControl) {
			return backupRequest{}, fmt.Errorf("%s: contains control characters", f.name)
		}
	}
	if req.Site == "" {
		return backupRequest{}, errors.New("site: required")
	}
	switch req.Trigger {
	case "":
		req.Trigger = catalog.TriggerManual
	case catalog.TriggerManual, catalog.TriggerPreImport:
	default:
		return backupRequest{}, fmt.Errorf("trigger %q not accepted: want %s or %s", req.Trigger, catalog.TriggerManual, catalog.TriggerPreImport)
	}
	return req, nil
}

// decodeBody reads one JSON value from r into v: no unknown fields (a
// misspelt "dry_run" must not prune for real), no data after it. Errors
// wrap the reader's error (for example an *http.MaxBytesError) or say what
// is wrong with the body; an empty body's error shows example.
func decodeBody(r io.Reader, v any, example string) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("empty request body: want a JSON object such as %s", example)
		}
		return fmt.Errorf("decode request body: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return fmt.Errorf("decode request body: %w", err)
		}
		return errors.New("decode request body: data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, "{\"error\":%q}\n", "encode answer: "+err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// logRequests logs one debug line per request: method, path (no query),
// status, bytes and duration; never a header.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelDebug, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// recorder remembers the status and size of an answer.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
