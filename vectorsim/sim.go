package vectorsim

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. Only Token is required.
type Options struct {
	// Token is the bearer token every API request must carry; a missing or
	// wrong token answers 401 {"data":{},"message":"Unauthenticated",...}.
	Token string
	// URLTTL is how long a minted presigned URL (download or upload) stays
	// valid. Default 1h.
	URLTTL time.Duration
	// ArtifactTTL is how long a completed export stays downloadable through
	// fresh status queries, counted from its completion; after it the status
	// stays "completed" with download_url null. It is also how long an import
	// session accepts uploads and a run. Default 24h.
	ArtifactTTL time.Duration
	// ProcessingTime is the time from export request (or import run, backup
	// request, backup download request) to completion. With 0, the default,
	// the POST answers "pending", the first status query "processing" and
	// the second and later ones "completed" (or "failed"); with a positive
	// value status queries answer "processing" until it has passed, then
	// "completed".
	ProcessingTime time.Duration
	// PlatformBackupEvery makes the platform take a scheduled backup of
	// every environment (not of development databases) every period,
	// counted from the environment's AddSite: completed backups of type
	// "scheduled" and scope PlatformBackupScope that spend no budget. They
	// appear when the backups routes are next asked, with created_at at
	// their due time (after a long jump of the clock, the newest 1000 per
	// environment). 0, the default, takes none; see also AddPlatformBackup.
	PlatformBackupEvery time.Duration
	// PlatformBackupScope is the scope of the scheduled backups: "full"
	// (the default), "database" or "files".
	PlatformBackupScope string
	// DumpSize is the plain-SQL size of the generated dumps. Default 64 KiB.
	DumpSize int64
	// Flavor selects the generated dumps' flavor. Default MySQL.
	Flavor Flavor
	// DBOpsPerHour is the database-operation budget (export, import-session,
	// direct-import and backup requests, but not backups of scope "files")
	// over a sliding hour; 0 means unlimited.
	// A request over it answers 429 with Retry-After, X-RateLimit-Remaining: 0
	// and X-RateLimit-Reset.
	DBOpsPerHour int
	// DBOpsWindow is the sliding window DBOpsPerHour counts over; default
	// an hour. Tests of an account whose budget is shared shorten it.
	DBOpsWindow time.Duration
	// RequestsPerMinute limits all API requests over a sliding minute; 0
	// means unlimited.
	RequestsPerMinute int
	// PartSize is the part size of multipart import sessions (OpenAPI route
	// set): a session whose content_length exceeds it gets one presigned URL
	// per part. Default 100 MiB.
	PartSize int64
	// Bucket names the simulated S3 bucket in presigned URLs. Default
	// "vector-db-transfers".
	Bucket string
	// TempDir holds the gzip copies of exports (Faults.Gzip), the archives
	// of backup downloads and uploaded import files until Close. Default
	// os.TempDir().
	TempDir string
	// Now is the clock for everything but download pacing (Faults.SlowBody).
	// Default time.Now.
	Now func() time.Time
	// Backend supplies dumps and receives imports. Default: generated dumps
	// (Dump with DumpSize and Flavor, seeded by site, environment and a
	// per-environment export counter); imported SQL is read and discarded.
	// A backup's dump is asked for once, when its first download completes.
	Backend Backend
	// Logger receives debug and info lines. Default: discard.
	Logger *slog.Logger
}

// Backend is the database behind the simulated API.
type Backend interface {
	// Export returns a dump of the site's database; envID "" is the
	// development database. An error makes the export fail with the
	// error's text as its error_message.
	Export(ctx context.Context, siteID, envID string) (Body, error)
	// Import consumes the plain SQL of an import (the simulator gunzips
	// uploads that start with the gzip magic bytes). An error makes the
	// import fail with the error's text as its error_message.
	Import(ctx context.Context, siteID, envID string, sql io.Reader) error
}

// EnvKey names a site's database: Env "" is the development database.
type EnvKey struct {
	Site, Env string
}

// ImportStats describes the imports that reached one database.
type ImportStats struct {
	Count      int    // successful imports
	LastSize   int64  // plain-SQL size of the last successful import
	LastSHA256 string // hex SHA-256 of that SQL
}

// Stats is a snapshot of the Server's counters.
type Stats struct {
	APIRequests         int            // requests under /api/v1/vector, whatever the answer
	ExportRequests      map[EnvKey]int // accepted export requests (including ones whose answer was dropped)
	StatusQueries       int            // export status queries answered 200
	ImportStatusQueries int            // import status queries answered 200
	DBOperations        int            // requests that spent the database-operation budget
	Downloads           int            // GETs of export objects and backup archives that started a body (200 or 206)
	RangeRequests       int            // GETs of export objects and backup archives that carried a Range header
	Uploads             int            // import uploads stored (whole files and parts)
	RateLimited         int            // 429 answers, whatever the cause
	ServerErrors        int            // 5xx answers injected by Faults.ServerErrors
	AuthOnPresigned     int            // presigned-URL requests refused for carrying an Authorization header
	Imports             map[EnvKey]ImportStats

	BackupRequests              map[EnvKey]int // accepted POST /backups (including ones whose answer was dropped), by database
	BackupStatusQueries         int            // GET /backups/{backup} answered 200
	BackupListRequests          int            // GET /backups answered 200
	BackupsListed               int            // backups in those answers, all pages counted
	PlatformBackupsListed       int            // of those, backups the platform took on its own
	PlatformBackups             int            // scheduled backups the platform took (PlatformBackupEvery, AddPlatformBackup)
	BackupDownloadRequests      int            // accepted POST /backups/{backup}/downloads
	BackupDownloadStatusQueries int            // GET /backups/{backup}/downloads/{download} answered 200
}

// Server is the simulated API. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	opts    Options
	secret  []byte
	log     *slog.Logger
	backend Backend
	bufs    sync.Pool
	token   atomic.Pointer[string] // set by SetToken, else opts.Token

	mu       sync.Mutex
	sites    map[string]map[string]bool
	exports  map[string]*export
	imports  map[string]*importSession
	faults   map[string]*Faults
	stats    Stats
	minute   window
	ops      window
	proxySeq int
	temps    map[string]*os.File // temp files removed by Close; open when non-nil

	// The sites and environments routes' view of the sites (sites.go).
	siteInfo   map[string]*siteInfo
	envIndex   map[string]*envInfo // by environment id: the first site added with it
	subdomains map[string]string   // subdomain -> site id
	infoSeq    int
	// Backups and their downloads (backups.go).
	backups      map[string]*backup
	backupList   []*backup // in creation order
	backupSeq    int
	downloads    map[string]*backupDownload
	platformNext map[EnvKey]time.Time // the next scheduled backup of an environment
}

var _ http.Handler = (*Server)(nil)

// New returns a Server with no sites. It panics if o.Token is empty or
// o.PlatformBackupScope is not one of "", "full", "database" and "files".
func New(o Options) *Server {
	if o.Token == "" {
		panic("vectorsim: Options.Token is required")
	}
	if o.URLTTL <= 0 {
		o.URLTTL = time.Hour
	}
	if o.ArtifactTTL <= 0 {
		o.ArtifactTTL = 24 * time.Hour
	}
	if o.DumpSize <= 0 {
		o.DumpSize = 64 << 10
	}
	if o.PartSize <= 0 {
		o.PartSize = 100 << 20
	}
	if o.Bucket == "" {
		o.Bucket = "vector-db-transfers"
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PlatformBackupScope == "" {
		o.PlatformBackupScope = scopeFull
	}
	switch o.PlatformBackupScope {
	case scopeFull, scopeDatabase, scopeFiles:
	default:
		panic("vectorsim: Options.PlatformBackupScope must be full, database or files")
	}
	s := &Server{
		opts:    o,
		secret:  make([]byte, 32),
		log:     o.Logger,
		backend: o.Backend,
		sites:   map[string]map[string]bool{},
		exports: map[string]*export{},
		imports: map[string]*importSession{},
		faults:  map[string]*Faults{},
		minute:  window{limit: o.RequestsPerMinute, span: time.Minute},
		ops:     window{limit: o.DBOpsPerHour, span: cmp.Or(o.DBOpsWindow, time.Hour)},
		temps:   map[string]*os.File{},

		siteInfo:     map[string]*siteInfo{},
		envIndex:     map[string]*envInfo{},
		subdomains:   map[string]string{},
		backups:      map[string]*backup{},
		downloads:    map[string]*backupDownload{},
		platformNext: map[EnvKey]time.Time{},
	}
	_, _ = rand.Read(s.secret)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.backend == nil {
		s.backend = &generated{size: o.DumpSize, flavor: o.Flavor, n: map[EnvKey]int{}}
	}
	s.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	s.resetStatsLocked()
	return s
}

// AddSite makes a site and its environments known; requests for unknown
// sites answer 404 "Site not found", for unknown environments 404
// "Environment not found". Adding a site again adds environments to it.
//
// The sites and environments routes show what AddSite added, derived from
// the ids alone: each site gets a two-word subdomain (wispy-dust) and
// domains built on it; an environment is named after its id when that reads
// as a name (production), else production, staging, preview, env-4, … in
// the order added. Environment ids are meant to be unique across sites;
// where one is not, /environments/{env} and a backup's environment_id mean
// the first site added with it.
func (s *Server) AddSite(siteID string, envIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	envs := s.sites[siteID]
	if envs == nil {
		envs = map[string]bool{}
		s.sites[siteID] = envs
	}
	for _, e := range envIDs {
		envs[e] = true
	}
	s.describeSiteLocked(siteID, envIDs)
}

// SetFaults replaces the faults of a site; siteID "" sets faults that apply
// to every site. Where both are set, a site's non-zero fields win and its
// counters are spent first.
func (s *Server) SetFaults(siteID string, f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[siteID] = &f
}

// Faults returns what is left of the faults set for siteID (counters count
// down as faults are served).
func (s *Server) Faults(siteID string) Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faults[siteID]; f != nil {
		return *f
	}
	return Faults{}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ExportRequests = maps.Clone(s.stats.ExportRequests)
	st.Imports = maps.Clone(s.stats.Imports)
	st.BackupRequests = maps.Clone(s.stats.BackupRequests)
	return st
}

// ResetStats sets every counter back to zero.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetStatsLocked()
}

func (s *Server) resetStatsLocked() {
	s.stats = Stats{ExportRequests: map[EnvKey]int{}, Imports: map[EnvKey]ImportStats{}, BackupRequests: map[EnvKey]int{}}
}

// Close removes the temporary files the Server created (gzip copies of
// exports, archives of backup downloads, uploads not yet imported).
// Downloads of gzip exports and of backup archives fail after it. Close
// does not stop an http.Server that serves s.
func (s *Server) Close() error {
	s.mu.Lock()
	temps := s.temps
	s.temps = map[string]*os.File{}
	s.mu.Unlock()
	var errs []error
	for path, f := range temps {
		if f != nil {
			_ = f.Close()
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// createTemp creates a temporary file that Close removes; keepOpen makes
// Close close it as well.
func (s *Server) createTemp(pattern string, keepOpen bool) (*os.File, error) {
	f, err := os.CreateTemp(s.opts.TempDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	s.mu.Lock()
	if keepOpen {
		s.temps[f.Name()] = f
	} else {
		s.temps[f.Name()] = nil
	}
	s.mu.Unlock()
	return f, nil
}

// removeTemp removes a temporary file created by createTemp.
func (s *Server) removeTemp(path string) {
	s.mu.Lock()
	delete(s.temps, path)
	s.mu.Unlock()
	_ = os.Remove(path)
}

// ServeHTTP serves the API under /api/v1/vector and the storage objects
// under /s3/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/s3/"):
		s.serveS3(w, r)
	case p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/"):
		s.serveAPI(w, r)
	default:
		http.NotFound(w, r)
	}
}

// generated is the default Backend.
type generated struct {
	size   int64
	flavor Flavor
	mu     sync.Mutex
	n      map[EnvKey]int
}

func (g *generated) Export(ctx context.Context, siteID, envID string) (Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	k := EnvKey{siteID, envID}
	g.n[k]++
	n := g.n[k]
	g.mu.Unlock()
	return Dump(fmt.Sprintf("%s/%s/%d", siteID, envID, n), g.size, g.flavor), nil
}

func (g *generated) Import(ctx context.Context, siteID, envID string, sql io.Reader) error {
	_, err := io.Copy(io.Discard, sql)
	return err
}
