package vectorapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Backup scopes and types, as the Backups API spells them.
const (
	BackupScopeDatabase = "database"
	BackupScopeFiles    = "files"
	BackupScopeFull     = "full"
	BackupTypeManual    = "manual"
	BackupTypeScheduled = "scheduled"
)

// maxBackupDescription is the longest description the API takes (runes).
const maxBackupDescription = 500

// Backup is a platform backup (CONTRACT §9).
type Backup struct {
	ID string
	// Status is StatusPending, StatusProcessing, StatusCompleted or
	// StatusFailed as the API says, lower-cased ("running" and
	// "in_progress" read as StatusProcessing); treat any other value as
	// still running.
	Status string
	// Scope is BackupScopeDatabase, BackupScopeFiles or BackupScopeFull.
	Scope string
	// Type is BackupTypeManual, BackupTypeScheduled, ...
	Type string
	// SiteID is the site the backup belongs to: the API's archivable_id
	// for a site's own backup (archivable_type vector_site). For an
	// environment's backup the API names only the environment: SiteID is
	// then the one ListBackups and CreateBackup were given, and "" from
	// Backup.
	SiteID string
	// EnvironmentID is the environment the backup belongs to; "" for a
	// site's development database (a backup of the site itself).
	EnvironmentID string
	Description   string
	// ErrorMessage says why a failed backup failed, if the API said.
	ErrorMessage string
	// SizeBytes is the backup's size; -1 if unknown (the API's backup
	// objects carry none today).
	SizeBytes int64
	// CreatedAt and CompletedAt are in UTC; CompletedAt is zero until
	// completed.
	CreatedAt   time.Time
	CompletedAt time.Time
}

// BackupDownload is a download of a platform backup's archive (a .tar.gz).
type BackupDownload struct {
	ID       string
	BackupID string
	// Status is StatusPending, StatusProcessing, StatusCompleted or
	// StatusFailed, lower-cased; treat any other value as still running.
	Status string
	// DownloadURL is the presigned URL of the archive; "" until completed,
	// and "" for a completed download whose URL the API no longer hands
	// out (expired): ask for a new download. A secret: log RedactURL of it.
	DownloadURL string
	// ExpiresAt is when DownloadURL stops working (UTC); zero if unknown.
	ExpiresAt time.Time
	// SizeBytes is the archive's size; -1 if unknown.
	SizeBytes    int64
	ErrorMessage string
}

// CreateBackup asks the API for a manual platform backup of t's database:
// POST /backups {"environment_id": …, "type": "manual", "scope":
// "database", "description": …}, with "site_id" instead for a site's
// development database (t.EnvironmentID ""). A description over 500
// characters is cut to 500; an empty one is left out. It spends one of the
// API's database operations, under both route sets.
//
// Its retries follow StartExport's: re-sent only after failures that prove
// the API did not act on it (connection refused, 500, 503), each resend
// announced to Options.BeforeRetry first; a 429 is handed back at once
// (ErrRateLimited, with RetryAfter when the API said); an answer that may
// have been lost (timeout, connection reset, 502, 504, an unreadable 2xx)
// gives an error matching ErrExportUncertain: list the target's backups
// (ListBackups) before asking again. 401/403 match ErrUnauthorized, 422 is
// an *Error with Fields.
//
// The returned Backup has an ID and a Status (StatusPending unless the API
// says otherwise), and t's SiteID and EnvironmentID.
func (c *Client) CreateBackup(ctx context.Context, t Target, description string) (Backup, error) {
	const name = "create backup"
	req := struct {
		SiteID        string `json:"site_id,omitempty"`
		EnvironmentID string `json:"environment_id,omitempty"`
		Type          string `json:"type"`
		Scope         string `json:"scope"`
		Description   string `json:"description,omitempty"`
	}{Type: BackupTypeManual, Scope: BackupScopeDatabase, Description: truncateRunes(description, maxBackupDescription)}
	if t.EnvironmentID != "" {
		req.EnvironmentID = t.EnvironmentID
	} else {
		if t.SiteID == "" {
			return Backup{}, fmt.Errorf("%s: site id is empty", name)
		}
		req.SiteID = t.SiteID
	}
	method, path, err := c.accountPath(opBackupCreate, "", "", nil)
	if err != nil {
		return Backup{}, fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opBackupCreate, method: method, path: path,
		what: "the backup may have been started", avoid: "a second backup"}
	if r.json, err = json.Marshal(req); err != nil {
		return Backup{}, fmt.Errorf("%s: %w", name, err)
	}
	body, err := c.callAPI(ctx, r)
	if err != nil {
		return Backup{}, err
	}
	b, err := func() (Backup, error) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return Backup{}, err
		}
		b, _, err := decodeBackup(env.data)
		if err == nil && b.ID == "" {
			err = errors.New("the answer has no backup id")
		}
		return b, err
	}()
	if err != nil {
		return Backup{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	if b.Status == "" {
		b.Status = StatusPending
	}
	if b.Scope == "" {
		b.Scope = req.Scope
	}
	if b.Type == "" {
		b.Type = req.Type
	}
	if b.Description == "" {
		b.Description = req.Description
	}
	// The backup is the target's, whatever the answer names it by.
	b.SiteID, b.EnvironmentID = t.SiteID, t.EnvironmentID
	return b, nil
}

// Backup returns platform backup id. It is safe to repeat and is retried
// on 5xx and network errors. A 404 matches ErrNotFound; an answer without
// a status is an error.
func (c *Client) Backup(ctx context.Context, id string) (Backup, error) {
	const name = "backup status"
	method, path, err := c.accountPath(opBackupStatus, id, "", nil)
	if err != nil {
		return Backup{}, fmt.Errorf("%s: %w", name, err)
	}
	body, err := c.callAPI(ctx, apiRequest{op: opBackupStatus, method: method, path: path, safe: true})
	if err != nil {
		return Backup{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return Backup{}, fmt.Errorf("%s %s: %w", name, id, err)
	}
	b, _, err := decodeBackup(env.data)
	if err != nil {
		return Backup{}, fmt.Errorf("%s %s: %w", name, id, err)
	}
	if b.Status == "" {
		return Backup{}, fmt.Errorf("%s %s: the answer has no status", name, id)
	}
	if b.ID == "" {
		b.ID = id
	}
	return b, nil
}

// ListBackups returns every platform backup of t's database, of any scope
// and status, newest first (by CreatedAt, then ID): GET
// /backups?environment_id=… (every page), or ?site_id=… for a site's
// development database, whose answer also holds the backups of the site's
// environments: only the site's own (archivable_type vector_site) are kept.
// Each Backup has t's SiteID and EnvironmentID. It is safe to repeat and is
// retried on 5xx and network errors; it spends no database operation.
func (c *Client) ListBackups(ctx context.Context, t Target) ([]Backup, error) {
	const name = "list backups"
	q := url.Values{}
	if t.EnvironmentID != "" {
		q.Set("environment_id", t.EnvironmentID)
	} else {
		if t.SiteID == "" {
			return nil, fmt.Errorf("%s: site id is empty", name)
		}
		q.Set("site_id", t.SiteID)
	}
	out := []Backup{}
	err := c.listPages(ctx, opBackupList, q, func(item fields) error {
		b, owner, err := decodeBackup(item)
		if err != nil {
			return err
		}
		if b.ID == "" {
			return errors.New("the backup has no id")
		}
		if !owner.belongsTo(t) {
			return nil
		}
		if b.SiteID == "" {
			b.SiteID = t.SiteID
		}
		b.EnvironmentID = t.EnvironmentID
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Backup) int {
		if n := b.CreatedAt.Compare(a.CreatedAt); n != 0 {
			return n
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out, nil
}

// CreateBackupDownload asks the API to package platform backup backupID as
// a downloadable archive: POST /backups/{id}/downloads. It spends no
// database operation, but it starts work at the API: like RunImport it is
// re-sent only after failures that prove the API did not act on it, and a
// lost answer gives an error matching ErrExportUncertain. A 404 (no such
// backup) matches ErrNotFound. The returned BackupDownload has an ID, the
// BackupID and a Status (StatusPending unless the API says otherwise).
func (c *Client) CreateBackupDownload(ctx context.Context, backupID string) (BackupDownload, error) {
	const name = "create backup download"
	method, path, err := c.accountPath(opBackupDownloadCreate, backupID, "", nil)
	if err != nil {
		return BackupDownload{}, fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opBackupDownloadCreate, method: method, path: path,
		what: "the download may have been requested", avoid: "a second download"}
	body, err := c.callAPI(ctx, r)
	if err != nil {
		return BackupDownload{}, err
	}
	d, err := func() (BackupDownload, error) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return BackupDownload{}, err
		}
		d, err := decodeBackupDownload(env.data)
		if err == nil && d.ID == "" {
			err = errors.New("the answer has no download id")
		}
		return d, err
	}()
	if err != nil {
		return BackupDownload{}, r.uncertain(fmt.Errorf("%s %s: %w", name, backupID, err))
	}
	if d.Status == "" {
		d.Status = StatusPending
	}
	if d.BackupID == "" {
		d.BackupID = backupID
	}
	return d, nil
}

// BackupDownload returns download downloadID of platform backup backupID:
// GET /backups/{backup}/downloads/{download}. It is safe to repeat and is
// retried on 5xx and network errors. A 404 matches ErrNotFound; an answer
// without a status is an error.
func (c *Client) BackupDownload(ctx context.Context, backupID, downloadID string) (BackupDownload, error) {
	const name = "backup download status"
	method, path, err := c.accountPath(opBackupDownloadStatus, backupID, downloadID, nil)
	if err != nil {
		return BackupDownload{}, fmt.Errorf("%s: %w", name, err)
	}
	body, err := c.callAPI(ctx, apiRequest{op: opBackupDownloadStatus, method: method, path: path, safe: true})
	if err != nil {
		return BackupDownload{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return BackupDownload{}, fmt.Errorf("%s %s: %w", name, downloadID, err)
	}
	d, err := decodeBackupDownload(env.data)
	if err != nil {
		return BackupDownload{}, fmt.Errorf("%s %s: %w", name, downloadID, err)
	}
	if d.Status == "" {
		return BackupDownload{}, fmt.Errorf("%s %s: the answer has no status", name, downloadID)
	}
	if d.ID == "" {
		d.ID = downloadID
	}
	if d.BackupID == "" {
		d.BackupID = backupID
	}
	return d, nil
}

// backupOwner is whose database a backup object says it holds.
type backupOwner struct {
	kind   string // "site", "environment" or "" (not said)
	siteID string // as the object says; "" if not
	envID  string
}

// belongsTo reports whether a backup listed for t is t's: for an
// environment, one the object does not place elsewhere (the API filtered
// by environment_id); for a site's development database, one the object
// says is the site's own (the site_id filter also returns its
// environments' backups).
func (o backupOwner) belongsTo(t Target) bool {
	if t.EnvironmentID != "" {
		switch o.kind {
		case "site":
			return false
		case "environment":
			return o.envID == "" || o.envID == t.EnvironmentID
		}
		return true
	}
	return o.kind == "site" && (o.siteID == "" || o.siteID == t.SiteID)
}

// decodeBackup reads a platform backup. It requires neither id nor status:
// the callers decide what they need. Its owner comes from archivable_type
// and archivable_id (the OpenAPI description's fields), else from
// site_id/vector_site_id and environment_id/vector_environment_id.
func decodeBackup(f fields) (Backup, backupOwner, error) {
	b := Backup{SizeBytes: -1}
	var o backupOwner
	var err error
	if b.ID, err = f.id("backup_id", "id"); err != nil {
		return Backup{}, o, err
	}
	if b.Status, err = f.status(); err != nil {
		return Backup{}, o, err
	}
	b.Status = normaliseStatus(b.Status)
	if b.Scope, err = f.str("scope"); err != nil {
		return Backup{}, o, err
	}
	b.Scope = strings.ToLower(strings.TrimSpace(b.Scope))
	if b.Type, err = f.str("type"); err != nil {
		return Backup{}, o, err
	}
	b.Type = strings.ToLower(strings.TrimSpace(b.Type))
	if b.Description, err = f.str("description"); err != nil {
		return Backup{}, o, err
	}
	if b.ErrorMessage, err = f.str("error_message", "failure_reason"); err != nil {
		return Backup{}, o, err
	}
	if b.ErrorMessage == "" && b.Status == StatusFailed {
		if b.ErrorMessage, err = f.str("message"); err != nil {
			return Backup{}, o, err
		}
	}
	if n, ok, err := f.int("size_bytes", "size"); err != nil {
		return Backup{}, o, err
	} else if ok {
		b.SizeBytes = n
	}
	if b.CreatedAt, err = f.time("created_at"); err != nil {
		return Backup{}, o, err
	}
	if b.CompletedAt, err = f.time("completed_at"); err != nil {
		return Backup{}, o, err
	}

	if o.siteID, err = f.id("site_id", "vector_site_id"); err != nil {
		return Backup{}, o, err
	}
	if o.envID, err = f.id("environment_id", "vector_environment_id"); err != nil {
		return Backup{}, o, err
	}
	kind, err := f.str("archivable_type")
	if err != nil {
		return Backup{}, o, err
	}
	archID, err := f.id("archivable_id")
	if err != nil {
		return Backup{}, o, err
	}
	switch o.kind = archivableKind(kind); {
	case o.kind == "site" && o.siteID == "":
		o.siteID = archID
	case o.kind == "environment" && o.envID == "":
		o.envID = archID
	case o.kind == "" && o.envID != "":
		o.kind = "environment"
	case o.kind == "" && o.siteID != "":
		o.kind = "site"
	}
	b.SiteID = o.siteID
	if o.kind == "environment" {
		b.EnvironmentID = o.envID
	}
	return b, o, nil
}

// archivableKind reads a backup's archivable_type: "vector_site" (the
// OpenAPI example), "site", a model class name ending in Site, and the
// same for environments; "" for anything else.
func archivableKind(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexAny(s, `\/.`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "vector_"), "vector")
	switch s {
	case "site":
		return "site"
	case "environment", "env":
		return "environment"
	}
	return ""
}

// decodeBackupDownload reads a backup download. It requires neither id nor
// status.
func decodeBackupDownload(f fields) (BackupDownload, error) {
	d := BackupDownload{SizeBytes: -1}
	var err error
	if d.ID, err = f.id("download_id", "id"); err != nil {
		return BackupDownload{}, err
	}
	if d.BackupID, err = f.id("vector_backup_id", "backup_id"); err != nil {
		return BackupDownload{}, err
	}
	if d.Status, err = f.status(); err != nil {
		return BackupDownload{}, err
	}
	d.Status = normaliseStatus(d.Status)
	if d.DownloadURL, err = f.presignedURL("download_url"); err != nil {
		return BackupDownload{}, err
	}
	if d.ExpiresAt, err = f.time("download_expires_at", "expires_at"); err != nil {
		return BackupDownload{}, err
	}
	if n, ok, err := f.int("size_bytes"); err != nil {
		return BackupDownload{}, err
	} else if ok {
		d.SizeBytes = n
	}
	if d.ErrorMessage, err = f.failure(d.Status); err != nil {
		return BackupDownload{}, err
	}
	return d, nil
}

// normaliseStatus maps other spellings of a running job to
// StatusProcessing.
func normaliseStatus(s string) string {
	switch s {
	case "running", "in_progress", "in-progress", "started":
		return StatusProcessing
	}
	return s
}

// truncateRunes cuts s to at most n runes, on a rune boundary.
func truncateRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
