package vectorsim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const apiPrefix = "/api/v1/vector"

// unlimitedReport is the limit an unlimited limiter reports in the
// X-RateLimit headers.
const unlimitedReport = 1_000_000

// call is one API request on its way through the handlers.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	now      time.Time
	openapi  bool   // the route belongs to the OpenAPI route set
	site     string // path parameters
	env      string
	id       string // {id}: an export, import or backup
	download string
}

type route struct {
	method  string
	path    []string // literal segments and {param}s
	openapi bool
	handle  func(*Server, *call)
}

func mkRoute(method, path string, openapi bool, h func(*Server, *call)) route {
	return route{method: method, path: strings.Split(path, "/"), openapi: openapi, handle: h}
}

// routes is the API's route table: both route sets, relative to apiPrefix.
var routes = []route{
	// The documented route set.
	mkRoute("POST", "sites/{site}/database/export", false, (*Server).createExport),
	mkRoute("POST", "sites/{site}/environments/{env}/database/export", false, (*Server).createExport),
	mkRoute("GET", "sites/{site}/database/export/{id}", false, (*Server).exportStatus),
	mkRoute("GET", "sites/{site}/environments/{env}/database/export/{id}", false, (*Server).exportStatus),
	mkRoute("POST", "sites/{site}/database/import", false, (*Server).createImport),
	mkRoute("POST", "sites/{site}/environments/{env}/database/import", false, (*Server).createImport),
	mkRoute("POST", "sites/{site}/database/import/{id}/run", false, (*Server).runImport),
	mkRoute("POST", "sites/{site}/environments/{env}/database/import/{id}/run", false, (*Server).runImport),
	mkRoute("GET", "sites/{site}/database/import/{id}", false, (*Server).importStatus),
	mkRoute("GET", "sites/{site}/environments/{env}/database/import/{id}", false, (*Server).importStatus),
	mkRoute("POST", "sites/{site}/database/import-direct", false, (*Server).directImport),
	// The OpenAPI route set.
	mkRoute("POST", "sites/{site}/db/export", true, (*Server).createExport),
	mkRoute("GET", "sites/{site}/db/exports/{id}", true, (*Server).exportStatus),
	mkRoute("POST", "sites/{site}/imports", true, (*Server).createImport),
	mkRoute("POST", "sites/{site}/imports/{id}/run", true, (*Server).runImport),
	mkRoute("GET", "sites/{site}/imports/{id}", true, (*Server).importStatus),
	// Routes both sets share: the documentation describes none of them, the
	// OpenAPI description these (sites.go, backups.go).
	mkRoute("GET", "sites", true, (*Server).listSites),
	mkRoute("GET", "sites/{site}", true, (*Server).getSite),
	mkRoute("GET", "environments", true, (*Server).listEnvironments),
	mkRoute("GET", "environments/{env}", true, (*Server).getEnvironment),
	mkRoute("GET", "backups", true, (*Server).listBackups),
	mkRoute("POST", "backups", true, (*Server).createBackup),
	mkRoute("GET", "backups/{id}", true, (*Server).getBackup),
	mkRoute("POST", "backups/{id}/downloads", true, (*Server).createBackupDownload),
	mkRoute("GET", "backups/{id}/downloads/{download}", true, (*Server).downloadStatus),
}

// match binds the path parameters of rt to segs into c.
func (rt route) match(segs []string, c *call) bool {
	if len(segs) != len(rt.path) {
		return false
	}
	for i, p := range rt.path {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if segs[i] != p {
			return false
		}
	}
	for i, p := range rt.path {
		switch p {
		case "{site}":
			c.site = segs[i]
		case "{env}":
			c.env = segs[i]
		case "{id}":
			c.id = segs[i]
		case "{download}":
			c.download = segs[i]
		}
	}
	return true
}

func (s *Server) serveAPI(w http.ResponseWriter, req *http.Request) {
	c := &call{w: w, r: req, now: s.opts.Now()}
	rest := strings.TrimPrefix(strings.TrimPrefix(req.URL.Path, apiPrefix), "/")
	segs := strings.Split(rest, "/")
	faultSite := s.faultSite(segs, req)
	s.mu.Lock()
	s.stats.APIRequests++
	s.mu.Unlock()

	if s.takeFault(faultSite, func(f *Faults) bool {
		if f.ServerErrors <= 0 {
			return false
		}
		f.ServerErrors--
		return true
	}) {
		s.serverError(c)
		return
	}

	s.setRateHeaders(w, &s.minute, c.now, false)
	var found *route
	var allowed []string
	for i := range routes {
		rt := &routes[i]
		var probe call
		if !rt.match(segs, &probe) {
			continue
		}
		if rt.method != req.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		found = rt
		rt.match(segs, c)
		c.openapi = rt.openapi
		break
	}
	if found == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			c.fail(http.StatusMethodNotAllowed, "The "+req.Method+" method is not supported for this route.", nil)
			return
		}
		c.fail(http.StatusNotFound, "Not found", nil)
		return
	}

	if !s.authorized(req) {
		c.fail(http.StatusUnauthorized, "Unauthenticated", nil)
		return
	}
	if s.takeFault(faultSite, func(f *Faults) bool {
		if f.RateLimited <= 0 {
			return false
		}
		f.RateLimited--
		return true
	}) {
		h := w.Header()
		h.Set("Retry-After", "1")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(c.now.Add(time.Second).Unix(), 10))
		s.tooMany(c)
		return
	}
	s.mu.Lock()
	ok, retry := s.minute.take(c.now)
	s.mu.Unlock()
	s.setRateHeaders(w, &s.minute, c.now, !ok)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		s.tooMany(c)
		return
	}
	found.handle(s, c)
}

// authorized reports whether the request carries the bearer token.
func (s *Server) authorized(req *http.Request) bool {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	want := s.opts.Token
	if t := s.token.Load(); t != nil {
		want = *t
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(want)) == 1
}

// SetToken rotates the API token: from now on only the new one is
// accepted, as after a user regenerated it in the dashboard.
func (s *Server) SetToken(token string) { s.token.Store(&token) }

// spend takes one database operation from the budget; when the budget is
// exhausted it answers 429 and returns false. Either way the X-RateLimit
// headers then describe the budget.
func (s *Server) spend(c *call) bool {
	s.mu.Lock()
	ok, retry := s.ops.take(c.now)
	if ok {
		s.stats.DBOperations++
	}
	s.mu.Unlock()
	s.setRateHeaders(c.w, &s.ops, c.now, !ok)
	if !ok {
		c.w.Header().Set("Retry-After", strconv.Itoa(retry))
		s.tooMany(c)
	}
	return ok
}

func (s *Server) tooMany(c *call) {
	s.mu.Lock()
	s.stats.RateLimited++
	s.mu.Unlock()
	c.fail(http.StatusTooManyRequests, "Too Many Attempts.", nil)
}

// serverError answers one injected 5xx.
func (s *Server) serverError(c *call) {
	s.mu.Lock()
	seq := s.proxySeq
	s.proxySeq++
	s.stats.ServerErrors++
	s.mu.Unlock()
	switch seq % 4 {
	case 1:
		proxyPage(c.w, http.StatusBadGateway, "502 Bad Gateway")
	case 3:
		proxyPage(c.w, http.StatusServiceUnavailable, "503 Service Temporarily Unavailable")
	default:
		s.setRateHeaders(c.w, &s.minute, c.now, false)
		c.fail(http.StatusInternalServerError, "Server Error", nil)
	}
}

func proxyPage(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
		title + "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
}

// setRateHeaders writes the X-RateLimit headers of a limiter.
func (s *Server) setRateHeaders(w http.ResponseWriter, win *window, now time.Time, exhausted bool) {
	s.mu.Lock()
	limit, remaining, reset := win.state(now)
	s.mu.Unlock()
	if exhausted {
		remaining = 0
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

// window is a sliding-window rate limiter. Its owner serializes access.
type window struct {
	limit int // 0: unlimited
	span  time.Duration
	hits  []time.Time
}

func (w *window) prune(now time.Time) {
	cut := now.Add(-w.span)
	i := 0
	for i < len(w.hits) && !w.hits[i].After(cut) {
		i++
	}
	w.hits = append(w.hits[:0], w.hits[i:]...)
}

// take counts one request at now if the window allows it; otherwise it
// returns the whole seconds until it will.
func (w *window) take(now time.Time) (ok bool, retryAfter int) {
	if w.limit <= 0 {
		return true, 0
	}
	w.prune(now)
	if len(w.hits) >= w.limit {
		wait := w.hits[0].Add(w.span).Sub(now)
		return false, max(1, int((wait+time.Second-1)/time.Second))
	}
	w.hits = append(w.hits, now)
	return true, 0
}

// state returns the limit, the requests left and when the oldest counted
// request leaves the window (now if none).
func (w *window) state(now time.Time) (limit, remaining int, reset time.Time) {
	if w.limit <= 0 {
		return unlimitedReport, unlimitedReport, now.Add(w.span)
	}
	w.prune(now)
	reset = now
	if len(w.hits) > 0 {
		reset = w.hits[0].Add(w.span)
		if reset.Truncate(time.Second) != reset {
			reset = reset.Truncate(time.Second).Add(time.Second)
		}
	}
	return w.limit, max(0, w.limit-len(w.hits)), reset
}

// object is a JSON object that keeps its keys in order.
type object []field

type field struct {
	k string
	v any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// reply writes the envelope {"data":data,"message":message,"http_status":status}.
func (c *call) reply(status int, data any, message string) {
	c.write(status, object{{"data", data}, {"message", message}, {"http_status", status}})
}

// fail writes an error envelope; errs become "errors" (422 answers).
func (c *call) fail(status int, message string, errs map[string][]string) {
	env := object{{"data", object{}}}
	if errs != nil {
		env = append(env, field{"errors", errs})
	}
	env = append(env, field{"message", message}, field{"http_status", status})
	c.write(status, env)
}

func (c *call) invalid(field, msg string) {
	c.fail(http.StatusUnprocessableEntity, "Validation failed", map[string][]string{field: {msg}})
}

func (c *call) write(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"data":{},"message":"Server Error","http_status":500}`)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	closeConn(conn)
}

// closeConn closes a hijacked connection; the FIN goes out after any data
// already written.
func closeConn(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.Close()
}

// checkSite answers 404 unless the call's site (and environment) exist.
func (s *Server) checkSite(c *call) bool {
	s.mu.Lock()
	envs, ok := s.sites[c.site]
	envOK := c.env == "" || envs[c.env]
	s.mu.Unlock()
	switch {
	case !ok:
		c.fail(http.StatusNotFound, "Site not found", nil)
		return false
	case !envOK:
		c.fail(http.StatusNotFound, "Environment not found", nil)
		return false
	}
	return true
}

// num renders an integer as the OpenAPI schema allows: a JSON number, or a
// numeric string under Faults.NumericStrings.
func num(v int64, f Faults) any {
	if f.NumericStrings {
		return strconv.FormatInt(v, 10)
	}
	return v
}

// atom formats a time as the OpenAPI examples do: 2025-01-15T12:00:00+00:00.
func atom(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}

// rfc3339 formats a time as the documentation's examples do:
// 2026-01-24T13:00:00Z.
func rfc3339(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func label(status string) string {
	if status == "" {
		return ""
	}
	return strings.ToUpper(status[:1]) + status[1:]
}

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// randomID returns n random lowercase Crockford base32 characters.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return string(b)
}

// ulid returns a lowercase ULID for now: 10 characters of milliseconds,
// 16 random ones.
func ulid(now time.Time) string {
	ms := uint64(now.UnixMilli()) & (1<<48 - 1)
	b := make([]byte, 10, 26)
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	return string(b) + randomID(16)
}
