package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/internal/failpoint"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/vectorapi"
)

// API is the part of the Vector API client a backup job uses.
// *vectorapi.Client satisfies it.
type API interface {
	StartExport(ctx context.Context, t vectorapi.Target) (vectorapi.Export, error)
	ExportStatus(ctx context.Context, t vectorapi.Target, exportID string) (vectorapi.Export, error)
	Download(ctx context.Context, url string, offset int64) (*vectorapi.Download, error)
	// DownloadFrom resumes a download at offset only if the object is
	// still the one validator names (If-Range); an answer of the whole
	// object matches vectorapi.ErrRangeIgnored.
	DownloadFrom(ctx context.Context, url string, offset int64, validator string) (*vectorapi.Download, error)
}

// Catalog records a job's progress and its finished backup.
// *catalog.DB satisfies it.
type Catalog interface {
	// CommitBackup records the backup and the job's success in one
	// transaction; committing the same backup again changes nothing.
	CommitBackup(ctx context.Context, r catalog.Record, j catalog.Job) error
	PutJob(ctx context.Context, j catalog.Job) error
}

// Gate admits work that a shared limit bounds. Export blocks until an export
// request may be sent (database-operation budget, exports in flight) and
// holds that slot until release; Download blocks until a download may start,
// earliest URL expiry first. Both return ctx's error if it ends first, and
// release must be called exactly once after a nil error.
//
// Pause stops every database operation until the given time: the API
// refused one with a 429. Callers waiting in Export keep their places.
type Gate interface {
	Export(ctx context.Context, trigger string) (release func(), err error)
	Download(ctx context.Context, expiresAt time.Time) (release func(), err error)
	Pause(until time.Time)
}

// DefaultRateLimitPause is how long a 429 on a database operation pauses
// them all when the API says neither Retry-After nor X-RateLimit-Reset.
const DefaultRateLimitPause = time.Hour

// Observer receives timings and archive failures. *metrics.Metrics
// satisfies it.
type Observer interface {
	ObservePhase(phase string, d time.Duration)
	ObserveURLRemaining(d time.Duration)
	ArchiveFailed(site, env, target string)
}

// Progress is a job's progress as a terminal shows it.
type Progress struct {
	Phase string // "exporting", "waiting", "downloading", "storing"
	Bytes int64  // bytes of the export file received
	Total int64  // the export file's size, -1 while unknown
}

// Exporter runs backup jobs. Its fields are set once and then only read, so
// one Exporter serves any number of concurrent jobs (of different
// environments).
type Exporter struct {
	API API
	// Backups serves the sources backup and mirror (CONTRACT §9); nil
	// refuses them.
	Backups BackupAPI
	Catalog Catalog
	// Targets receive every backup as it streams in; each must commit the
	// file and its manifest before the backup is recorded.
	Targets []storage.Target
	// Archives receive a copy of each backup once Targets[0] committed it
	// (S3: off-site copies). A failed archive copy does not fail the job
	// unless Spool is set: the backup is recorded with the locations that
	// hold it, and CopyToArchives can add the missing ones later.
	Archives []storage.Target
	// Spool marks Targets[0] as a staging area for Archives only: its copy
	// is removed once archived and never recorded as a location.
	Spool bool
	Codec codec.Codec

	PollInterval    time.Duration // first status poll; default 2s
	PollMaxInterval time.Duration // polls back off up to this; default 30s

	// SpaceCheck, when set, is asked before an export is requested whether
	// storage can take a backup of the environment (free space against
	// the size of its last backup): a full disk fails the job before it
	// spends a database operation. Its error is a storage failure.
	SpaceCheck func(ctx context.Context, site, env string) error

	Gate     Gate         // nil admits everything at once
	Observer Observer     // nil observes nothing
	Logger   *slog.Logger // nil discards
	Now      func() time.Time
}

// Request is one backup to take.
type Request struct {
	JobID                                    string // "" → a new id
	Site, Environment, SiteID, EnvironmentID string
	Trigger                                  string // catalog.TriggerSchedule, TriggerManual or TriggerPreImport
	Reason                                   string
	ExportTimeout                            time.Duration // from the export request to completed; default 2h

	// Source is catalog.SourceExport (also ""), SourceBackup or
	// SourceMirror.
	Source string
	// ExportID resumes an export (or a platform backup's download)
	// requested earlier, by a daemon that stopped: it is polled, not
	// requested again. PlatformBackupID likewise resumes a platform backup;
	// for a mirror job it is the platform backup to store.
	ExportID          string
	PlatformBackupID  string
	ExportRequestedAt time.Time
	// StartedAt is when a resumed job first started: it names the backup
	// file, so a copy the stopped daemon committed but did not record is
	// replaced rather than orphaned. Zero means now.
	StartedAt time.Time
	// BackupID is the catalog id a resumed job chose before it stopped:
	// the backup keeps it, so a job can never record one file twice.
	// Empty means a new id.
	BackupID string

	Progress func(Progress)    // optional
	OnState  func(catalog.Job) // optional: each persisted state change
}

// Job states, as the control API reports them.
const (
	StateQueued      = "queued"
	StateExporting   = "exporting"
	StateDownloading = "downloading"
	StateStoring     = "storing"
	StateSucceeded   = "succeeded"
	StateFailed      = "failed"
)

// Run takes one backup and returns its catalog record. On failure nothing is
// recorded and no file is left behind, and the error's Reason says why. If
// ctx ends, Run returns promptly with an error matching context.Canceled (or
// DeadlineExceeded) and leaves the job's persisted state as it stood, so a
// restarted daemon can resume the export instead of requesting another.
func (e *Exporter) Run(ctx context.Context, req Request) (catalog.Record, error) {
	j := e.newJob(req)
	src, err := e.source(req)
	if err != nil {
		return catalog.Record{}, err
	}
	j.src = src
	if err := j.persist(ctx, StateQueued); err != nil {
		return catalog.Record{}, err
	}
	rec, err := j.run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return catalog.Record{}, fmt.Errorf("backup %s/%s: %w", req.Site, req.Environment, context.Cause(ctx))
		}
		// A failed job leaves no file: also none that an earlier process
		// running this job committed before it stopped.
		if j.job.ExportID != "" {
			j.removeStored(j.key())
		}
		j.job.Error = err.Error()
		// The job's outcome is in the error; failing to persist it only
		// loses the job's history, so it is logged, not returned.
		if perr := j.persist(context.WithoutCancel(ctx), StateFailed); perr != nil {
			j.log.Warn("record job state", "error", perr)
		}
		return catalog.Record{}, err
	}
	if j.req.OnState != nil {
		j.req.OnState(j.job)
	}
	return rec, nil
}

// source returns what a request's SQL comes from.
func (e *Exporter) source(req Request) (source, error) {
	switch req.Source {
	case "", catalog.SourceExport:
		return exportSource{api: e.API}, nil
	case catalog.SourceBackup, catalog.SourceMirror:
		if e.Backups == nil {
			return nil, fail(ReasonAPI, "source %s: this vectord has no client for the Backups API", req.Source)
		}
		if req.Source == catalog.SourceMirror && req.PlatformBackupID == "" {
			return nil, fail(ReasonAPI, "source mirror: no platform backup named")
		}
		return backupSource{api: e.Backups, mirror: req.Source == catalog.SourceMirror}, nil
	}
	return nil, fail(ReasonAPI, "unknown source %q: want export, backup or mirror", req.Source)
}

// ref is what the job downloads, as persisted.
func (j *job) ref() ref { return ref{exportID: j.job.ExportID, backupID: j.job.PlatformBackupID} }

func (j *job) setRef(r ref) { j.job.ExportID, j.job.PlatformBackupID = r.exportID, r.backupID }

// key is the storage key of the job's backup file.
func (j *job) key() string {
	return storage.BackupKey(j.req.Site, j.req.Environment, j.started, j.job.ExportID, j.e.Codec.Ext())
}

type job struct {
	e       *Exporter
	src     source
	req     Request
	job     catalog.Job
	target  vectorapi.Target
	started time.Time
	log     *slog.Logger
}

func (e *Exporter) newJob(req Request) *job {
	now := e.now()
	if !req.StartedAt.IsZero() {
		now = req.StartedAt
	}
	if req.JobID == "" {
		req.JobID = catalog.NewID(now)
	}
	if req.ExportTimeout <= 0 {
		req.ExportTimeout = 2 * time.Hour
	}
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &job{
		e:   e,
		req: req,
		job: catalog.Job{
			ID: req.JobID, Site: req.Site, Environment: req.Environment,
			SiteID: req.SiteID, EnvironmentID: req.EnvironmentID,
			Trigger: req.Trigger, Reason: req.Reason,
			ExportID: req.ExportID, ExportRequestedAt: req.ExportRequestedAt,
			PlatformBackupID: req.PlatformBackupID, Source: req.Source,
			BackupID:  req.BackupID,
			CreatedAt: now,
		},
		target:  vectorapi.Target{SiteID: req.SiteID, EnvironmentID: req.EnvironmentID},
		started: now,
		log:     log.With("site", req.Site, "environment", req.Environment, "job_id", req.JobID),
	}
}

func (e *Exporter) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (j *job) persist(ctx context.Context, state string) error {
	j.job.State = state
	j.job.UpdatedAt = j.e.now()
	if err := j.e.Catalog.PutJob(ctx, j.job); err != nil {
		return &Error{Reason: ReasonStorage, Err: fmt.Errorf("record job %s: %w", j.job.ID, err)}
	}
	failpoint.Hit("job.put." + state)
	if j.req.OnState != nil {
		j.req.OnState(j.job)
	}
	return nil
}

func (j *job) progress(phase string, n, total int64) {
	if j.req.Progress != nil {
		j.req.Progress(Progress{Phase: phase, Bytes: n, Total: total})
	}
}

// maxFreshExports bounds how often one job asks for a new export after the
// first one's file became unreachable: each costs database-operation budget.
const maxFreshExports = 1

func (j *job) run(ctx context.Context) (catalog.Record, error) {
	fresh, maxFresh := 0, maxFreshExports
	if j.src.kind() == catalog.SourceMirror {
		maxFresh = 0 // a mirror stores what the platform has; it never asks for a new backup
	}
	for {
		release := func() {}
		if r := j.ref(); r.exportID == "" && r.backupID == "" {
			var err error
			if release, err = j.requestExport(ctx); err != nil {
				return catalog.Record{}, err
			}
		} else {
			j.log.Info("resuming", "source", j.src.kind(), "what", j.src.name(r))
		}
		art, err := j.waitCompleted(ctx)
		release() // the export slot is held while the export runs at the API
		if err == nil {
			var rec catalog.Record
			rec, err = j.download(ctx, art)
			if err == nil {
				return rec, nil
			}
		}
		if !errors.Is(err, errExportGone) || fresh >= maxFresh {
			return catalog.Record{}, err
		}
		fresh++
		j.log.Warn("file no longer available; requesting a fresh one", "what", j.src.name(j.ref()))
		// A copy committed under the old name (by a process that stopped
		// before recording it) is never recorded now.
		j.removeStored(j.key())
		j.setRef(ref{})
	}
}

// errExportGone: the export's file can no longer be downloaded (its URL
// expired and a fresh status query gave none), so only a new export helps.
var errExportGone = &Error{Reason: ReasonURLExpired, Err: errors.New("the download URL expired and the API offers no fresh one")}

// requestExport sends the request for a new artifact (an export, a
// platform backup: a database operation) once the gate admits it. The
// returned release frees the gate's export slot: the caller holds it until
// the artifact is ready at the API.
func (j *job) requestExport(ctx context.Context) (func(), error) {
	j.progress("exporting", 0, -1)
	if sc := j.e.SpaceCheck; sc != nil {
		if err := sc(ctx, j.req.Site, j.req.Environment); err != nil {
			return nil, &Error{Reason: ReasonStorage, Err: err}
		}
	}
	for {
		release := func() {}
		if g := j.e.Gate; g != nil {
			r, err := g.Export(ctx, j.req.Trigger)
			if err != nil {
				return nil, err
			}
			release = r
		}
		err := j.startExport(ctx)
		if err == nil {
			return release, nil
		}
		release()
		var apiErr *vectorapi.Error
		if !errors.Is(err, vectorapi.ErrRateLimited) || !errors.As(err, &apiErr) {
			return nil, err
		}
		// The account's budget is spent (another client shares it): every
		// database operation waits until the API says, and this job keeps
		// its place in the queue. Waiting is not failing.
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = DefaultRateLimitPause
		}
		until := j.e.now().Add(wait)
		j.log.Warn("waiting for API budget", "until", until.UTC().Format(time.RFC3339))
		if err := j.persist(ctx, StateQueued); err != nil {
			return nil, err
		}
		j.progress("waiting for API budget until "+until.UTC().Format(time.RFC3339), 0, -1)
		if g := j.e.Gate; g != nil {
			g.Pause(until)
		} else if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (j *job) startExport(ctx context.Context) error {
	r, err := j.src.start(ctx, j.target, j.req.Trigger)
	if err != nil {
		return classifyAPI(ReasonAPI, fmt.Errorf("request %s of site %s: %w", j.src.kind(), j.req.Site, err))
	}
	j.setRef(r)
	j.job.ExportRequestedAt = j.e.now()
	j.log.Info("export requested", "source", j.src.kind(), "export_id", r.exportID, "platform_backup_id", r.backupID)
	return j.persist(ctx, StateExporting)
}

// waitCompleted polls the artifact until it can be downloaded, fails, or
// outlives the export timeout, backing off from PollInterval to
// PollMaxInterval. A poll that advances the artifact (a platform backup
// completed and a download of it was created) is persisted at once.
func (j *job) waitCompleted(ctx context.Context) (artifact, error) {
	j.progress("waiting", 0, -1)
	interval, maxInterval := j.e.PollInterval, j.e.PollMaxInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if maxInterval < interval {
		maxInterval = max(interval, 30*time.Second)
	}
	requested := j.job.ExportRequestedAt
	if requested.IsZero() {
		requested = j.e.now()
	}
	deadline := requested.Add(j.req.ExportTimeout)
	for {
		cur := j.ref()
		name := j.src.name(cur)
		a, err := j.src.poll(ctx, j.target, cur)
		if errors.Is(err, errExportGone) {
			return a, errExportGone
		}
		if err != nil {
			// The artifact is made at the API whatever happens to one
			// status query: keep polling until export_timeout, unless the
			// token is refused or ctx ends.
			if errors.Is(err, vectorapi.ErrUnauthorized) || ctx.Err() != nil || !j.e.now().Add(interval).Before(deadline) {
				return a, classifyAPI(ReasonAPI, fmt.Errorf("query %s: %w", name, err))
			}
			j.log.Warn("status query failed; polling again", "what", name, "error", err)
			if err := sleep(ctx, interval); err != nil {
				return a, err
			}
			interval = min(interval*2, maxInterval)
			continue
		}
		if a.ref != cur {
			j.setRef(a.ref)
			if err := j.persist(ctx, StateExporting); err != nil {
				return a, err
			}
			if a.ref.exportID != "" && !a.done {
				j.log.Info("backup completed; download requested", "platform_backup_id", a.ref.backupID, "export_id", a.ref.exportID)
				continue // poll the new download at once
			}
		}
		switch {
		case a.done:
			if o := j.e.Observer; o != nil {
				o.ObservePhase("export", j.e.now().Sub(requested))
			}
			j.log.Info("export completed", "what", j.src.name(a.ref), "expires_at", a.expiresAt)
			return a, nil
		case a.failed != "":
			return a, fail(ReasonExportFailed, "%s of site %s failed: %s", j.src.name(a.ref), j.req.Site, a.failed)
		}
		if !j.e.now().Add(interval).Before(deadline) {
			return a, fail(ReasonExportTimeout, "%s of site %s not completed after %s (export_timeout)", j.src.name(a.ref), j.req.Site, j.req.ExportTimeout)
		}
		if err := sleep(ctx, interval); err != nil {
			return a, err
		}
		interval = min(interval*2, maxInterval)
	}
}

// classifyAPI keeps a rejected token or an unsupported route visible as an
// API failure while giving everything else the reason given.
func classifyAPI(reason string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Reason: reason, Err: err}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
