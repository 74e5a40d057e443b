package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/builtfast/vectord/catalog"
)

// DefaultShutdownGrace is how long Serve lets in-flight requests finish
// after its context ends when Options.ShutdownGrace is not set.
const DefaultShutdownGrace = 10 * time.Second

// Timeouts of the http.Server that Serve runs.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
)

// Errors a Jobs, Backups or Admin implementation returns (wrapped) to
// choose the control API's answer, and that Client methods return
// (wrapped) for the daemon's answers. Tell them apart with errors.Is.
var (
	// ErrNotFound: no such site, environment, job or backup (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request is malformed or incomplete, for example no
	// environment was named and none can be chosen (HTTP 400, or 413 for a
	// body too large).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the daemon cannot take the job now, for example
	// because it is shutting down (HTTP 503).
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthorized: the control token is missing or wrong, or the
	// request was refused as cross-origin (HTTP 401 or 403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrAmbiguous: a backup id prefix matches more than one backup; the
	// message names the candidates (HTTP 409). The server answers 409 for
	// errors matching it or catalog.ErrAmbiguous, and Client errors for a
	// 409 match both.
	ErrAmbiguous = errors.New("ambiguous id prefix")
	// ErrNotSupported: the daemon does not offer the operation, for example
	// one started without an Admin (HTTP 501).
	ErrNotSupported = errors.New("not supported by this daemon")
)

// MaxPageSize is the largest page GET /api/v1/backups serves; its default
// is catalog.DefaultPageSize.
const MaxPageSize = 10000

// Backups reads the catalog for the control API; *catalog.DB implements
// it. Errors matching catalog.ErrNotFound, catalog.ErrAmbiguous and
// catalog.ErrInvalid (or this package's ErrNotFound, ErrAmbiguous and
// ErrInvalid) answer 404, 409 and 400; any other error answers 500.
type Backups interface {
	// Page returns up to limit backups that f selects, newest first by id,
	// starting after the backup with id after ("" starts at the newest),
	// and the id to pass as after for the next page ("" when there is
	// none). Its memory must not grow with the catalog, only with limit.
	Page(ctx context.Context, f catalog.Filter, after string, limit int) ([]catalog.Record, string, error)
	// Resolve returns the full id of the one backup whose id starts with
	// prefix.
	Resolve(ctx context.Context, prefix string) (string, error)
	// Get returns the backup with the given full id.
	Get(ctx context.Context, id string) (catalog.Record, error)
}

// Admin changes the catalog for the command line while a daemon holds it
// (bbolt allows one writing process, so `vectord forget`, `pin`, `prune`
// and `check` beside a running daemon go through it). The server resolves
// an id prefix with Backups.Resolve before calling Forget or Pin, so they
// receive a full catalog id. Errors matching catalog.ErrNotFound (or
// ErrNotFound), catalog.ErrAmbiguous (or ErrAmbiguous), ErrInvalid (or
// catalog.ErrInvalid) and ErrUnavailable answer 404, 409, 400 and 503;
// any other error answers 500 with its text, which therefore must hold no
// secret.
type Admin interface {
	// Forget deletes the backup now as `vectord forget` does (CONTRACT §2):
	// mark, files on every target, record, whatever retention says. A
	// pinned backup is refused with an error matching ErrInvalid.
	Forget(ctx context.Context, id string) error
	// Pin pins (pinned true) or unpins the backup.
	Pin(ctx context.Context, id string, pinned bool) error
	// Prune applies retention now (with dryRun, only reports what it would
	// do) and returns its report as JSON, which the server passes on as
	// is.
	Prune(ctx context.Context, dryRun bool) (json.RawMessage, error)
	// Check compares the catalog with storage as `vectord check` does
	// (with repair, fixes what it can; with readData, re-reads every
	// stored file) and returns its report as JSON and whether everything
	// was in order.
	Check(ctx context.Context, repair, readData bool) (report json.RawMessage, ok bool, err error)
}

// JobStatus is one backup job as GET /api/v1/jobs/{job_id} reports it.
type JobStatus struct {
	JobID string `json:"job_id"`
	// State is one of catalog.JobQueued, JobExporting, JobDownloading,
	// JobStoring, JobSucceeded and JobFailed.
	State    string `json:"state"`
	BackupID string `json:"backup_id"` // the catalog record, once succeeded
	Error    string `json:"error"`     // why, once failed
	// Waiting says why a job that has not finished waits, for example
	// "waiting for API budget until 2026-12-04T21:00:00Z" (CONTRACT §6);
	// empty when it does not wait.
	Waiting string `json:"waiting,omitempty"`
	// Position is the job's place among those waiting for the budget (1:
	// next), 0 once admitted; EstimatedStart is when it would be admitted.
	Position       int        `json:"position,omitempty"`
	EstimatedStart *time.Time `json:"estimated_start,omitempty"`
}

// Done reports whether the job has ended: succeeded or failed.
func (s JobStatus) Done() bool {
	return s.State == catalog.JobSucceeded || s.State == catalog.JobFailed
}

// Jobs starts backup jobs and reports on them; the daemon's scheduler
// implements it.
type Jobs interface {
	// Submit queues one backup of site and env with the given trigger
	// (catalog.TriggerManual or catalog.TriggerPreImport) and free-text
	// reason, and returns the job's id without waiting for it. An empty env
	// picks the site's only environment, else its development one. Errors:
	// one matching ErrNotFound for an unknown site or environment (its
	// message, naming the configured choices, is what the client sees), one
	// matching ErrInvalid when env is empty and no environment can be
	// chosen or the trigger is refused, one matching ErrUnavailable when no
	// job can be taken now; any other error answers 500.
	Submit(site, env, trigger, reason string) (jobID string, err error)
	// Status returns the job's current status, or false for an unknown job.
	Status(jobID string) (JobStatus, bool)
	// Cancel ends a job that has not finished (the person waiting for it
	// gave up), or reports false for an unknown or finished job.
	Cancel(jobID string) bool
	// Admit blocks until the daemon's database-operation budget admits one
	// operation (op "import" for a restore's import request) for ref, and
	// writes it to the ledger, or returns ctx's error.
	Admit(ctx context.Context, op, ref string) error
}

// Options configure New.
type Options struct {
	// Listen is the host:port ListenAndServe listens on; required, also
	// when only Serve is used (it decides whether a token is needed).
	Listen string
	// Token is the control token /api/v1 requires as a bearer token. Empty
	// means none, which New allows only when Listen is a loopback address
	// (localhost, 127.0.0.0/8, ::1).
	Token string
	// Gatherer is what /metrics serves; required (pass the daemon's own
	// registry, not the default one).
	Gatherer prometheus.Gatherer
	// Backups answers GET /api/v1/backups and GET /api/v1/backups/{id},
	// and resolves the ids the Admin routes name; required.
	Backups Backups
	// Admin answers DELETE /api/v1/backups/{id}, PUT and DELETE
	// /api/v1/backups/{id}/pin, POST /api/v1/prune and POST /api/v1/check;
	// nil means those routes answer 501.
	Admin Admin
	// Jobs answers POST /api/v1/backups and GET /api/v1/jobs/{id}; required.
	Jobs Jobs
	// Ready reports whether the configuration is loaded and the catalog
	// open, for /readyz; nil means always ready. Server.SetDraining makes
	// /readyz answer 503 whatever Ready says.
	Ready func() bool
	// Logger receives one debug line per request and warnings; nil means
	// discard.
	Logger *slog.Logger
	// ShutdownGrace bounds how long Serve waits for in-flight requests once
	// its context ends before closing their connections; zero means
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// Status, if set, answers GET /api/v1/status with what `vectord
	// status --json` prints; nil answers 501.
	Status func(ctx context.Context) (json.RawMessage, error)
}

// Server serves vectord's HTTP endpoints. Create it with New.
type Server struct {
	listen string
	// token is the control token's SHA-256 (compared in constant time,
	// whatever its length), nil when none is configured; SetToken replaces it.
	token    atomic.Pointer[[sha256.Size]byte]
	gatherer prometheus.Gatherer
	backups  Backups
	admin    Admin
	status   func(ctx context.Context) (json.RawMessage, error)
	jobs     Jobs
	ready    func() bool
	draining atomic.Bool
	log      *slog.Logger
	grace    time.Duration
	// writeTimeout is the http.Server's WriteTimeout (writeTimeout; tests
	// shorten it).
	writeTimeout time.Duration
	handler      http.Handler
}

// SetToken replaces the control token (a configuration reload): requests
// from then on must carry the new one. An empty token is refused unless
// the server listens on a loopback address only.
func (s *Server) SetToken(token string) error {
	host, _, _ := net.SplitHostPort(s.listen)
	if token == "" && !isLoopbackHost(host) {
		return fmt.Errorf("server: listen address %q accepts connections from other hosts: a control token is required", s.listen)
	}
	if token == "" {
		s.token.Store(nil)
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	s.token.Store(&sum)
	return nil
}

// New checks o and returns a server; it starts nothing. Errors: Listen not
// host:port, no Token while Listen is not a loopback address (an empty host
// or 0.0.0.0 or :: listens on every interface), or a required field nil.
func New(o Options) (*Server, error) {
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen address %q: want host:port: %w", o.Listen, err)
	}
	if o.Token == "" && !isLoopbackHost(host) {
		return nil, fmt.Errorf("server: listen address %q accepts connections from other hosts: a control token is required", o.Listen)
	}
	switch {
	case o.Gatherer == nil:
		return nil, errors.New("server: no metrics gatherer")
	case o.Backups == nil:
		return nil, errors.New("server: no backups catalog")
	case o.Jobs == nil:
		return nil, errors.New("server: no jobs")
	}
	s := &Server{
		listen:   o.Listen,
		gatherer: o.Gatherer,
		backups:  o.Backups,
		admin:    o.Admin,
		status:   o.Status,
		jobs:     o.Jobs,
		ready:    o.Ready,
		log:      o.Logger,
		grace:    o.ShutdownGrace,

		writeTimeout: writeTimeout,
	}
	if err := s.SetToken(o.Token); err != nil {
		return nil, err
	}
	if s.ready == nil {
		s.ready = func() bool { return true }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.grace <= 0 {
		s.grace = DefaultShutdownGrace
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the handler of every route, for tests and for callers
// that run their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// SetDraining marks the daemon as draining for shutdown: from then on
// /readyz answers 503 "draining for shutdown", so that a load balancer or
// orchestrator stops sending it work, while every other route keeps
// answering. It cannot be undone; calling it again does nothing. It is
// safe for concurrent use.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Serve serves HTTP on ln until ctx ends, then stops accepting connections,
// lets in-flight requests finish for up to Options.ShutdownGrace, closes
// what remains, and returns nil. It closes ln. It returns an error only
// when serving fails before ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("http requests still running after the shutdown grace; closing their connections",
			"duration", s.grace, "error", err)
		srv.Close()
	}
	<-served // http.ErrServerClosed
	return nil
}

// ListenAndServe listens on Options.Listen and serves as Serve does.
// Errors: the address cannot be listened on, or serving fails.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.listen, err)
	}
	return s.Serve(ctx, ln)
}

// isLoopbackHost reports whether host (no port) names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
