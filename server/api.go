package server

import (
	"bytes"
	"cmp"
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
	"slices"
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

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/backups", s.listBackups)
	api.HandleFunc("POST /api/v1/backups", s.startBackup)
	api.HandleFunc("/api/v1/backups", methodNotAllowed("GET, HEAD, POST"))
	api.HandleFunc("GET /api/v1/jobs/{job_id}", s.job)
	api.HandleFunc("/api/v1/jobs/{job_id}", methodNotAllowed("GET, HEAD"))
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
		if !s.hasToken {
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
		if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
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

// listBackups answers GET /api/v1/backups?site=&env=.
func (s *Server) listBackups(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	recs, err := s.backups.List(r.Context(), f)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		s.log.Error("list backups", "site", f.Site, "environment", f.Environment, "error", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("list backups: %v", err))
		return
	}
	if recs == nil {
		recs = []catalog.Record{}
	}
	slices.SortStableFunc(recs, func(a, b catalog.Record) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(b.ID, a.ID))
	})
	writeJSON(w, http.StatusOK, recs)
}

// parseFilter reads the query of GET /api/v1/backups: site and env, each
// at most once, each a name or empty.
func parseFilter(q url.Values) (catalog.Filter, error) {
	var f catalog.Filter
	for k, v := range q {
		var dst *string
		switch k {
		case "site":
			dst = &f.Site
		case "env":
			dst = &f.Environment
		default:
			return catalog.Filter{}, fmt.Errorf("unknown query parameter %q: want site, env", k)
		}
		if len(v) > 1 {
			return catalog.Filter{}, fmt.Errorf("query parameter %s given %d times", k, len(v))
		}
		if v[0] != "" && !nameRE.MatchString(v[0]) {
			return catalog.Filter{}, fmt.Errorf("query parameter %s: %q is not a name ([a-z0-9][a-z0-9_-]*)", k, v[0])
		}
		*dst = v[0]
	}
	return f, nil
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
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return backupRequest{}, errors.New(`empty request body: want a JSON object such as {"site":"acme"}`)
		}
		return backupRequest{}, fmt.Errorf("decode request body: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return backupRequest{}, fmt.Errorf("decode request body: %w", err)
		}
		return backupRequest{}, errors.New("decode request body: data after the JSON object")
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
