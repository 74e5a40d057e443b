package vectorsim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// Backup types (the API's "type") and scopes.
const (
	backupManual    = "manual"
	backupScheduled = "scheduled"

	scopeFull     = "full"
	scopeDatabase = "database"
	scopeFiles    = "files"
)

// maxPlatformCatchUp bounds the scheduled backups created at once when the
// clock jumps far ahead: only the newest this many per environment appear.
const maxPlatformCatchUp = 1000

// lifecycle is the status of a backup or a backup download. Status queries
// move it along as they move exports (see the package documentation).
type lifecycle struct {
	status    string
	queries   int // status queries so far
	created   time.Time
	started   time.Time
	completed time.Time // also set when failed
	updated   time.Time
	wasStuck  bool
	errMsg    string
}

// due advances l at a status query (counted) or at another look at it (a
// list, a download request), which moves it only by the clock under
// Options.ProcessingTime. It reports whether l is due to finish, and at
// what time it finished.
func (l *lifecycle) due(now time.Time, pt time.Duration, stuck, counted bool) (time.Time, bool) {
	if l.status == statusCompleted || l.status == statusFailed || (!counted && pt <= 0) {
		return time.Time{}, false
	}
	if counted {
		l.queries++
	}
	if l.status == statusPending {
		l.status, l.started = statusProcessing, now
		if pt > 0 {
			l.started = l.created
		}
		l.updated = l.started
	}
	ready := l.queries >= 2
	if pt > 0 {
		ready = !now.Before(l.created.Add(pt))
	}
	if !ready {
		return time.Time{}, false
	}
	if stuck {
		l.wasStuck = true
		return time.Time{}, false
	}
	if pt > 0 && !l.wasStuck {
		return l.created.Add(pt), true
	}
	return now, true
}

// finish ends l at at: completed, or failed with errMsg.
func (l *lifecycle) finish(at time.Time, errMsg string) {
	l.status, l.completed, l.updated, l.errMsg = statusCompleted, at, at, errMsg
	if errMsg != "" {
		l.status = statusFailed
	}
}

// backup is one platform backup of a site's development database (env "")
// or of an environment.
type backup struct {
	id          string
	site        string
	env         string
	kind        string // manual or scheduled
	scope       string // full, database or files
	description string
	platform    bool // created by the platform's schedule, not by a request
	created     time.Time
	seq         int // order of creation, for ties in created

	mu   sync.Mutex
	lc   lifecycle
	body Body // the database dump: asked of the Backend at the first download
}

// addBackupLocked registers a new backup. The caller holds s.mu.
func (s *Server) addBackupLocked(b *backup) {
	s.backupSeq++
	b.seq = s.backupSeq
	s.backups[b.id] = b
	s.backupList = append(s.backupList, b)
}

// AddPlatformBackup makes the platform take a scheduled backup of a site's
// development database (envID "") or of one of its environments, now: the
// backup is "completed" at once, of type "scheduled" and the given scope
// ("database", "full" or "files"), and spends no database operation. It
// returns the backup's id. It panics on an unknown site or environment or
// an invalid scope.
func (s *Server) AddPlatformBackup(siteID, envID, scope string) string {
	if scope != scopeFull && scope != scopeDatabase && scope != scopeFiles {
		panic(fmt.Sprintf("vectorsim: AddPlatformBackup: invalid scope %q", scope))
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	envs, ok := s.sites[siteID]
	if !ok || (envID != "" && !envs[envID]) {
		panic(fmt.Sprintf("vectorsim: AddPlatformBackup: unknown site %q or environment %q", siteID, envID))
	}
	return s.addPlatformBackupLocked(siteID, envID, scope, now).id
}

// addPlatformBackupLocked creates a completed scheduled backup taken at at.
// The caller holds s.mu.
func (s *Server) addPlatformBackupLocked(siteID, envID, scope string, at time.Time) *backup {
	b := &backup{id: ulid(at), site: siteID, env: envID, kind: backupScheduled, scope: scope,
		description: "Scheduled backup", platform: true, created: at,
		lc: lifecycle{status: statusCompleted, created: at, started: at, completed: at, updated: at}}
	s.addBackupLocked(b)
	s.stats.PlatformBackups++
	s.log.Debug("platform backup taken", "site", siteID, "environment", envID, "backup_id", b.id, "scope", scope)
	return b
}

// platformTick creates the scheduled backups due by now under
// Options.PlatformBackupEvery: one per environment every period, counted
// from the environment's addition.
func (s *Server) platformTick(now time.Time) {
	every := s.opts.PlatformBackupEvery
	if every <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sites := make([]*siteInfo, 0, len(s.siteInfo))
	for _, si := range s.siteInfo {
		sites = append(sites, si)
	}
	slices.SortFunc(sites, func(a, b *siteInfo) int { return cmp.Compare(a.seq, b.seq) })
	for _, si := range sites {
		for _, e := range si.envs {
			k := EnvKey{si.id, e.id}
			next, ok := s.platformNext[k]
			if !ok {
				next = e.created.Add(every)
			}
			if n := int64(now.Sub(next) / every); n >= maxPlatformCatchUp {
				next = next.Add(time.Duration(n-maxPlatformCatchUp+1) * every)
			}
			for ; !next.After(now); next = next.Add(every) {
				s.addPlatformBackupLocked(si.id, e.id, s.opts.PlatformBackupScope, next)
			}
			s.platformNext[k] = next
		}
	}
}

// idValue reads an id sent as a JSON string or number; absent and null give
// "". ok is false for any other JSON value.
func idValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// backupRequest is the body of POST /backups.
type backupRequest struct {
	SiteID        json.RawMessage `json:"site_id"`
	EnvironmentID json.RawMessage `json:"environment_id"`
	Type          *string         `json:"type"`
	Scope         *string         `json:"scope"`
	Description   *string         `json:"description"`
}

// createBackup serves POST /backups: validation first (422 with every
// field's errors), then the database-operation budget (scopes database and
// full), then a "pending" backup.
func (s *Server) createBackup(c *call) {
	var req backupRequest
	decodeOptional(c.r, &req)
	errs := map[string][]string{}
	siteID, okSite := idValue(req.SiteID)
	envID, okEnv := idValue(req.EnvironmentID)
	if !okSite {
		errs["site_id"] = []string{"The site id field must be a string."}
	}
	if !okEnv {
		errs["environment_id"] = []string{"The environment id field must be a string."}
	}
	if okSite && okEnv && siteID == "" && envID == "" {
		errs["site_id"] = []string{"Either a site ID or environment ID is required."}
	}
	s.mu.Lock()
	site := siteID
	if envID != "" {
		switch e := s.envIndex[envID]; {
		case e == nil:
			errs["environment_id"] = []string{"The selected environment id is invalid."}
		case siteID != "" && s.sites[siteID][envID]:
			// The environment id may be shared; the site names which.
		case siteID != "" && s.sites[siteID] != nil:
			errs["environment_id"] = []string{"The environment does not belong to the given site."}
		default:
			if siteID == "" {
				site = e.site.id
			}
		}
	}
	if siteID != "" && s.sites[siteID] == nil {
		errs["site_id"] = []string{"The selected site id is invalid."}
	}
	s.mu.Unlock()
	kind := ""
	if req.Type != nil {
		kind = *req.Type
	}
	switch kind {
	case "":
		errs["type"] = []string{"The type field is required."}
	case backupManual, backupScheduled:
	default:
		errs["type"] = []string{"The selected type is invalid."}
	}
	scope := scopeFull
	if req.Scope != nil {
		scope = *req.Scope
	}
	if scope != scopeFull && scope != scopeDatabase && scope != scopeFiles {
		errs["scope"] = []string{"The selected scope is invalid."}
	}
	var desc string
	if req.Description != nil {
		desc = *req.Description
	}
	if utf8.RuneCountInString(desc) > 500 {
		errs["description"] = []string{"The description field must not be greater than 500 characters."}
	}
	if len(errs) > 0 {
		c.fail(http.StatusUnprocessableEntity, "Validation failed", errs)
		return
	}
	if scope != scopeFiles && !s.spend(c) {
		return
	}
	b := &backup{id: ulid(c.now), site: site, env: envID, kind: kind, scope: scope, description: desc,
		created: c.now, lc: lifecycle{status: statusPending, created: c.now, updated: c.now}}
	s.mu.Lock()
	s.addBackupLocked(b)
	s.stats.BackupRequests[EnvKey{site, envID}]++
	s.mu.Unlock()
	s.log.Info("backup requested", "site", site, "environment", envID, "backup_id", b.id, "scope", scope)
	f := s.faultsFor(site)
	if f.DropBackupAnswer {
		drop(c.w)
		return
	}
	b.mu.Lock()
	data := backupObject(b)
	b.mu.Unlock()
	c.reply(http.StatusAccepted, data, "Backup initiated successfully")
}

// getBackup serves GET /backups/{backup}.
func (s *Server) getBackup(c *call) {
	s.platformTick(c.now)
	s.mu.Lock()
	b := s.backups[c.id]
	s.mu.Unlock()
	if b == nil {
		c.fail(http.StatusNotFound, "Backup not found", nil)
		return
	}
	f := s.faultsFor(b.site)
	b.mu.Lock()
	s.advanceBackup(b, c.now, f, true)
	data := backupObject(b)
	b.mu.Unlock()
	s.mu.Lock()
	s.stats.BackupStatusQueries++
	s.mu.Unlock()
	c.reply(http.StatusOK, data, "Backup retrieved successfully")
}

// advanceBackup moves a backup along (see lifecycle.due). The caller holds
// b.mu.
func (s *Server) advanceBackup(b *backup, now time.Time, f Faults, counted bool) {
	at, ok := b.lc.due(now, s.opts.ProcessingTime, f.StuckProcessing, counted)
	if !ok {
		return
	}
	b.lc.finish(at, f.FailBackup)
	if f.FailBackup != "" {
		s.log.Info("backup failed", "site", b.site, "environment", b.env, "backup_id", b.id, "error", f.FailBackup)
		return
	}
	s.log.Info("backup completed", "site", b.site, "environment", b.env, "backup_id", b.id,
		"duration", at.Sub(b.created))
}

// listBackups serves GET /backups: newest first, filtered by type (site or
// environment), site_id (the site and all its environments) and
// environment_id, paginated.
func (s *Server) listBackups(c *call) {
	q := c.r.URL.Query()
	errs := map[string][]string{}
	var wantEnv *bool
	switch q.Get("type") {
	case "":
	case "site", "vector_site":
		wantEnv = new(false)
	case "environment", "vector_environment":
		wantEnv = new(true)
	default:
		errs["type"] = []string{"The selected type is invalid."}
	}
	pg, ok := parsePage(q, errs)
	if !ok || len(errs) > 0 {
		c.fail(http.StatusUnprocessableEntity, "Validation failed", errs)
		return
	}
	siteID, envID := q.Get("site_id"), q.Get("environment_id")
	s.platformTick(c.now)
	s.mu.Lock()
	var list []*backup
	for _, b := range s.backupList {
		if (wantEnv != nil && *wantEnv != (b.env != "")) ||
			(siteID != "" && b.site != siteID) || (envID != "" && b.env != envID) {
			continue
		}
		list = append(list, b)
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *backup) int {
		return -cmp.Or(a.created.Compare(b.created), cmp.Compare(a.seq, b.seq))
	})
	faults := map[string]Faults{}
	items := make([]object, 0, pg.size)
	platform := 0
	for _, i := range pg.slice(len(list)) {
		b := list[i]
		f, ok := faults[b.site]
		if !ok {
			f = s.faultsFor(b.site)
			faults[b.site] = f
		}
		b.mu.Lock()
		s.advanceBackup(b, c.now, f, false)
		items = append(items, backupObject(b))
		b.mu.Unlock()
		if b.platform {
			platform++
		}
	}
	s.mu.Lock()
	s.stats.BackupListRequests++
	s.stats.BackupsListed += len(items)
	s.stats.PlatformBackupsListed += platform
	s.mu.Unlock()
	c.replyPage(items, len(list), pg, "backups", "Backups retrieved successfully")
}

// snapshotID derives a restic-like snapshot id from a backup's id.
func snapshotID(backupID, kind string) string {
	sum := sha256.Sum256([]byte(kind + "/" + backupID))
	return hex.EncodeToString(sum[:6])
}

// backupObject renders a backup as the OpenAPI examples show it, with
// error_message added when it failed (the OpenAPI's Backup has no error
// field). The caller holds b.mu.
func backupObject(b *backup) object {
	archType, archID := "vector_site", b.site
	if b.env != "" {
		archType, archID = "vector_environment", b.env
	}
	var fileSnap, dbSnap any
	if b.lc.status == statusCompleted {
		if b.scope != scopeDatabase {
			fileSnap = snapshotID(b.id, "files")
		}
		if b.scope != scopeFiles {
			dbSnap = snapshotID(b.id, "database")
		}
	}
	o := object{
		{"id", b.id},
		{"archivable_type", archType},
		{"archivable_id", archID},
		{"type", b.kind},
		{"type_label", label(b.kind)},
		{"scope", b.scope},
		{"scope_label", label(b.scope)},
		{"status", b.lc.status},
		{"status_label", label(b.lc.status)},
		{"description", nullable(b.description)},
	}
	if b.lc.status == statusFailed {
		o = append(o, field{"error_message", b.lc.errMsg})
	}
	return append(o,
		field{"file_snapshot_id", fileSnap},
		field{"database_snapshot_id", dbSnap},
		field{"started_at", atom(b.lc.started)},
		field{"completed_at", atom(b.lc.completed)},
		field{"created_at", atom(b.lc.created)},
		field{"updated_at", atom(b.lc.updated)},
	)
}

// faultSite names the site whose faults apply to an API request: the
// {site} of /sites/… paths; the site of the environment, backup or download
// a path names; or the site named by the site_id or environment_id of a
// backups list or create request. "" when there is none.
func (s *Server) faultSite(segs []string, req *http.Request) string {
	if len(segs) > 1 && segs[0] == "sites" {
		return segs[1]
	}
	var siteID, envID string
	if len(segs) == 1 && segs[0] == "backups" {
		switch req.Method {
		case http.MethodGet:
			siteID, envID = req.URL.Query().Get("site_id"), req.URL.Query().Get("environment_id")
		case http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
			req.Body = io.NopCloser(bytes.NewReader(body))
			var r backupRequest
			if err == nil && json.Unmarshal(body, &r) == nil {
				siteID, _ = idValue(r.SiteID)
				envID, _ = idValue(r.EnvironmentID)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case siteID != "":
		return siteID
	case envID != "":
		if e := s.envIndex[envID]; e != nil {
			return e.site.id
		}
	case len(segs) > 1 && segs[0] == "environments":
		if e := s.envIndex[segs[1]]; e != nil {
			return e.site.id
		}
	case len(segs) > 1 && segs[0] == "backups":
		if b := s.backups[segs[1]]; b != nil {
			return b.site
		}
	}
	return ""
}
