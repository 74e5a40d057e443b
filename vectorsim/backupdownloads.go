package vectorsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// backupDownload is one download request of a completed backup.
type backupDownload struct {
	id     string
	backup *backup

	mu  sync.Mutex
	lc  lifecycle
	obj *storedObject // the archive, set when completed
}

// createBackupDownload serves POST /backups/{backup}/downloads. The backup
// must be completed (else 422); a download spends no database operation.
func (s *Server) createBackupDownload(c *call) {
	s.mu.Lock()
	b := s.backups[c.id]
	s.mu.Unlock()
	if b == nil {
		c.fail(http.StatusNotFound, "Backup not found", nil)
		return
	}
	f := s.faultsFor(b.site)
	b.mu.Lock()
	s.advanceBackup(b, c.now, f, false)
	status := b.lc.status
	b.mu.Unlock()
	if status != statusCompleted {
		c.fail(http.StatusUnprocessableEntity, "Validation failed",
			map[string][]string{"backup": {"The backup must be completed before it can be downloaded."}})
		return
	}
	d := &backupDownload{id: ulid(c.now), backup: b,
		lc: lifecycle{status: statusPending, created: c.now, updated: c.now}}
	s.mu.Lock()
	s.downloads[d.id] = d
	s.stats.BackupDownloadRequests++
	s.mu.Unlock()
	s.log.Info("backup download requested", "site", b.site, "environment", b.env, "backup_id", b.id, "download_id", d.id)
	d.mu.Lock()
	data := downloadObject(d, "", time.Time{}, f)
	d.mu.Unlock()
	c.reply(http.StatusAccepted, data, "Backup download initiated")
}

// downloadStatus serves GET /backups/{backup}/downloads/{download}. Each
// query of a completed download mints a fresh download URL, as export
// status queries do.
func (s *Server) downloadStatus(c *call) {
	s.mu.Lock()
	b, d := s.backups[c.id], s.downloads[c.download]
	s.mu.Unlock()
	if b == nil {
		c.fail(http.StatusNotFound, "Backup not found", nil)
		return
	}
	if d == nil || d.backup != b {
		c.fail(http.StatusNotFound, "Backup download not found", nil)
		return
	}
	f := s.faultsFor(b.site)
	d.mu.Lock()
	s.advanceDownload(c.r.Context(), d, c.now, f)
	var url string
	var expires time.Time
	if d.lc.status == statusCompleted && c.now.Before(d.lc.completed.Add(s.opts.ArtifactTTL)) {
		url, expires = s.mintURL(c, b.site, d.obj.key)
	}
	data := downloadObject(d, url, expires, f)
	d.mu.Unlock()
	s.mu.Lock()
	s.stats.BackupDownloadStatusQueries++
	s.mu.Unlock()
	c.reply(http.StatusOK, data, "Backup download retrieved successfully")
}

// advanceDownload moves a download along; when it completes, its archive is
// built, to the end even if the client that asked gives up waiting (a large
// dump takes seconds), so that the next query finds it completed. The
// caller holds d.mu.
func (s *Server) advanceDownload(ctx context.Context, d *backupDownload, now time.Time, f Faults) {
	at, ok := d.lc.due(now, s.opts.ProcessingTime, f.StuckProcessing, true)
	if !ok {
		return
	}
	b := d.backup
	if f.FailBackupDownload != "" {
		d.lc.finish(at, f.FailBackupDownload)
		s.log.Info("backup download failed", "site", b.site, "environment", b.env, "backup_id", b.id,
			"download_id", d.id, "error", f.FailBackupDownload)
		return
	}
	obj, err := s.archive(context.WithoutCancel(ctx), d, f)
	if err != nil {
		d.lc.finish(at, err.Error())
		s.log.Info("backup download failed", "site", b.site, "environment", b.env, "backup_id", b.id,
			"download_id", d.id, "error", err)
		return
	}
	d.obj = obj
	d.lc.finish(at, "")
	s.log.Info("backup download completed", "site", b.site, "environment", b.env, "backup_id", b.id,
		"download_id", d.id, "bytes", obj.body.Size())
}

// archive builds a download's .tar.gz as the faults say. The caller holds
// d.mu.
func (s *Server) archive(ctx context.Context, d *backupDownload, f Faults) (*storedObject, error) {
	b := d.backup
	b.mu.Lock()
	modTime := b.lc.completed
	var sql Body
	if b.scope != scopeFiles {
		if b.body == nil {
			body, err := s.backend.Export(ctx, b.site, b.env)
			if err != nil {
				b.mu.Unlock()
				return nil, err
			}
			b.body = body
		}
		sql = b.body
	}
	b.mu.Unlock()
	if sql != nil && f.NoTrailer {
		var err error
		if sql, err = withoutLastLine(sql); err != nil {
			return nil, err
		}
	}
	dbName := "db_" + b.site
	if b.env != "" {
		dbName = "db_" + b.env
	}
	body, err := s.buildArchive(ctx, d.id, archiveSpec{
		seed: b.id, modTime: modTime, scope: b.scope, dbName: dbName, sql: sql,
		gzipSQL: f.ArchiveSQLGzip, twoSQL: f.ArchiveTwoSQL, noSQL: f.ArchiveNoSQL,
	})
	if err != nil {
		return nil, err
	}
	key := "backups/downloads/" + d.id + ".tar.gz"
	sum := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(body.Size(), 10)))
	return &storedObject{body: body, key: key, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// downloadObject renders a backup download as the OpenAPI examples show
// it. The caller holds d.mu.
func downloadObject(d *backupDownload, url string, expires time.Time, f Faults) object {
	var key, size, duration any
	if d.lc.status == statusCompleted {
		key, size = d.obj.key, num(d.obj.body.Size(), f)
	}
	if d.lc.status == statusCompleted || d.lc.status == statusFailed {
		duration = num(d.lc.completed.Sub(d.lc.started).Milliseconds(), f)
	}
	return object{
		{"id", d.id},
		{"vector_backup_id", d.backup.id},
		{"status", d.lc.status},
		{"status_label", label(d.lc.status)},
		{"s3_key", key},
		{"size_bytes", size},
		{"duration_ms", duration},
		{"error_message", nullable(d.lc.errMsg)},
		{"download_url", nullable(url)},
		{"download_expires_at", atom(expires)},
		{"started_at", atom(d.lc.started)},
		{"completed_at", atom(d.lc.completed)},
		{"created_at", atom(d.lc.created)},
		{"updated_at", atom(d.lc.updated)},
	}
}

// serveBackupDownload serves GET and HEAD of a completed backup download's
// archive.
func (s *Server) serveBackupDownload(w http.ResponseWriter, req *http.Request, key string, now time.Time) {
	id := strings.TrimSuffix(strings.TrimPrefix(key, "backups/downloads/"), ".tar.gz")
	s.mu.Lock()
	d := s.downloads[id]
	s.mu.Unlock()
	if d == nil {
		s.writeS3Error(w, req, noSuchKey(key))
		return
	}
	d.mu.Lock()
	obj, completed := d.obj, d.lc.completed
	d.mu.Unlock()
	if obj == nil || obj.key != key || !now.Before(completed.Add(s.opts.ArtifactTTL)) {
		s.writeS3Error(w, req, noSuchKey(key))
		return
	}
	b := d.backup
	s.serveObject(w, req, obj, completed, b.site, "site", b.site, "environment", b.env,
		"backup_id", b.id, "download_id", d.id)
}
