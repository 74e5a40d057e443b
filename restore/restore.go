// Package restore imports SQL dumps into a site's database through the
// Vector API, after a pre-import safety snapshot of that database.
//
// An import is, in order: the checks that need no API (the target, the
// dump's size against the API's limit, that the dump opens and reads; a
// dump sent as a direct import is read and checked whole), the snapshot
// (unless skipped; if it fails the import does not start), then either a
// direct import (a small dump of a site's development database, one
// multipart request) or an import session (create it, PUT the dump to its
// presigned URL, or in parts to the part URLs when the session asks for a
// multipart upload, run it), then polling until the API reports the import
// completed or failed. So an import that cannot be done is refused before
// it spends a snapshot or a database operation, as far as that can be known
// without the API. The dump is streamed from its Source, never held in
// memory, and is checked before the import runs: its size, its SHA-256 when
// the Source names one, and that a mysqldump or mariadb-dump file ends with
// its "-- Dump completed" line.
package restore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/builtfast/vectord/vectorapi"
)

// Defaults for the Importer's zero fields.
const (
	DefaultPollInterval    = 2 * time.Second
	DefaultPollMaxInterval = 30 * time.Second
	DefaultTimeout         = 2 * time.Hour
)

// DefaultDirectLimit is the largest dump sent as a direct import when
// Options.DirectLimit is 0: the API takes direct imports under 10 MB.
const DefaultDirectLimit = vectorapi.DirectImportMaxBytes

// Progress phases.
const (
	PhaseSnapshot  = "snapshot"  // taking the pre-import snapshot
	PhaseUploading = "uploading" // sending the dump
	PhaseImporting = "importing" // waiting for the API to import it
)

var (
	// ErrSnapshot: the pre-import snapshot could not be taken, so the
	// import was not started. The error wraps the snapshot's own error.
	ErrSnapshot = errors.New("the pre-import snapshot failed; the import was not started")
	// ErrImportFailed: the API ran the import and reports it failed; the
	// error's text carries the API's message.
	ErrImportFailed = errors.New("the import failed")
	// ErrNotConfirmed: Confirm got no "yes" (an answer other than y or
	// yes, or no terminal to ask on and no --yes).
	ErrNotConfirmed = errors.New("import not confirmed")
	// ErrTooLarge: the dump is larger than an import session takes
	// (Importer.MaxSessionBytes); nothing was spent.
	ErrTooLarge = errors.New("the dump is larger than the API imports")
)

// API is the part of the Vector API client an import uses.
// *vectorapi.Client satisfies it; see its documentation for each call's
// error contract.
type API interface {
	CreateImportFile(ctx context.Context, t vectorapi.Target, filename string, size int64) (vectorapi.ImportSession, error)
	Upload(ctx context.Context, uploadURL string, body io.Reader, size int64) error
	UploadParts(ctx context.Context, s vectorapi.ImportSession, body io.Reader, size int64) ([]vectorapi.CompletedPart, error)
	RunImport(ctx context.Context, t vectorapi.Target, importID string, parts ...vectorapi.CompletedPart) error
	ImportStatus(ctx context.Context, t vectorapi.Target, importID string) (vectorapi.Import, error)
	ImportDirect(ctx context.Context, t vectorapi.Target, filename string, body io.Reader, size int64) (vectorapi.Import, error)
	SupportsDirectImport() bool
	SupportsEnvironments() bool
}

var _ API = (*vectorapi.Client)(nil)

// Snapshotter takes the pre-import snapshot: a backup (trigger pre-import)
// of a site's environment, by configured names. It returns the backup's
// catalog id once the backup is durably stored; an error means there is no
// snapshot.
type Snapshotter interface {
	Snapshot(ctx context.Context, site, env, reason string) (backupID string, err error)
}

// Importer imports dumps. Its fields are set once and then only read; one
// Importer may run any number of imports at once.
type Importer struct {
	API API
	// Snapshot takes the pre-import snapshots; it may be nil only if every
	// import sets Options.NoSnapshot.
	Snapshot Snapshotter

	PollInterval    time.Duration // first import-status poll; default 2s
	PollMaxInterval time.Duration // polls back off up to this; default 30s
	// Timeout bounds the wait for the API to finish an import once it has
	// started (default 2h). The snapshot and the upload are bounded by the
	// caller's context only.
	Timeout time.Duration
	// MaxSessionBytes is the largest dump sent through an import session:
	// a larger one is refused before anything is spent. 0 means
	// vectorapi.MaxImportBytes (the API's default limit of 50 GB); a
	// negative value leaves the limit to the API (a cluster configured for
	// more).
	MaxSessionBytes int64

	// Budget, if set, is asked before each database-operation request (an
	// import session or a direct import) and blocks until the account's
	// budget admits it (CONTRACT §6), writing it to the ledger; its error
	// ends the import before the request is sent.
	Budget func(ctx context.Context, op, ref string) error
	// Pause, if set, is told that the API refused an import session with a
	// 429 and asked to wait until the given time: every database operation
	// waits, and the session is requested again once Budget admits it.
	Pause func(until time.Time)

	Logger *slog.Logger     // nil discards
	Now    func() time.Time // default time.Now
	// Progress, if set, is told how the import advances. It may be called
	// from another goroutine than Import's, but calls never overlap.
	Progress func(Progress)
}

// Progress is an import's progress as a terminal shows it.
type Progress struct {
	Phase string // PhaseSnapshot, PhaseUploading or PhaseImporting
	Bytes int64  // bytes of the dump sent so far
	Total int64  // the dump's size
}

// Source is the plain SQL to import.
type Source struct {
	// Name is what the dump is called in messages (a file name, a backup
	// id); its last path element is sent to the API as the file name.
	Name string
	// Size is the dump's exact size in bytes; it must be positive.
	Size int64
	// SHA256, if set, is the dump's hex SHA-256: the import does not run
	// unless the bytes sent match it.
	SHA256 string
	// Open returns the dump from its first byte. It is called before the
	// snapshot, to check that the dump can be read (a direct import's is
	// read whole), and again to send it, and again when it must be sent
	// again (a new import session after an expired upload URL; a part of a
	// multipart upload that failed, when the reader cannot seek: the dump
	// is then read up to the part). If the reader is an io.Seeker, a
	// failed upload can be retried by rewinding it. An error the reader
	// returns at the dump's end (a checksum it checks itself) stops the
	// import before it runs.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Target is the database to import into: configured names for messages
// and the snapshot, Vector ids for the API (EnvironmentID "" is the site's
// development database).
type Target struct {
	Site, Environment, SiteID, EnvironmentID string
}

// String names t for people: "site acme environment production".
func (t Target) String() string {
	return fmt.Sprintf("site %s environment %s", t.Site, t.Environment)
}

// Options adjust one import.
type Options struct {
	// NoSnapshot skips the pre-import snapshot.
	NoSnapshot bool
	// Reason is the snapshot's reason; default "before importing <Source.Name>".
	Reason string
	// DirectLimit is the largest dump sent as a direct import, when the API
	// supports one for the target (a site's development database, the
	// documented routes). 0 means DefaultDirectLimit, a negative value
	// never imports directly; values above DefaultDirectLimit count as it.
	DirectLimit int64
}

// Result describes a finished import.
type Result struct {
	SnapshotID string // catalog id of the pre-import snapshot; "" with NoSnapshot
	ImportID   string // the API's import id; "" if a direct import reported no id
	Bytes      int64  // plain SQL sent
	SHA256     string // hex SHA-256 of the SQL sent
	Direct     bool   // sent as a direct import rather than through a session
	Duration   time.Duration
}

// Import takes the pre-import snapshot of t (unless o.NoSnapshot), sends
// src to the API and waits until the API has imported it.
//
// Errors: one matching ErrSnapshot if the snapshot failed (nothing was
// sent); one matching ErrImportFailed, with the API's message, if the API
// reports the import failed; one matching vectorapi.ErrUnsupported for an
// environment target when the API's routes have none, and one matching
// ErrTooLarge for a dump over MaxSessionBytes, both before the snapshot, as
// for a dump that cannot be opened or read. An expired upload URL leads to
// one new session and a second upload; a second expiry gives an error
// matching vectorapi.ErrURLExpired. A dump whose size, SHA-256 or ending is
// wrong is refused before the import runs. If ctx ends (or
// Timeout passes) after the import started, the error says so: the API may
// still complete it. On error the Result still names the snapshot, if one
// was taken, and the import, once the API has one. Errors and log lines
// never carry the API token or an upload URL's signature.
func (im *Importer) Import(ctx context.Context, t Target, src Source, o Options) (Result, error) {
	res, err := im.run(ctx, t, src, o)
	if err != nil {
		return res, fmt.Errorf("import %s into %s: %w", displayName(src.Name), t, err)
	}
	return res, nil
}

func (im *Importer) run(ctx context.Context, t Target, src Source, o Options) (Result, error) {
	start := im.now()
	if err := im.validate(t, src, o); err != nil {
		return Result{}, err
	}
	direct := im.direct(t, src, o)
	// What can be known without the API is checked before anything is
	// spent: a direct import's dump (at most 10 MB) is read and checked
	// whole, a larger dump is opened and its start read.
	var checked sent
	if direct {
		var err error
		if checked, err = im.check(ctx, src); err != nil {
			return Result{}, err
		}
	} else if err := im.probe(ctx, src); err != nil {
		return Result{}, err
	}
	var res Result
	log := im.logger().With("site", t.Site, "environment", t.Environment)
	if !o.NoSnapshot {
		reason := o.Reason
		if reason == "" {
			reason = "before importing " + displayName(src.Name)
		}
		im.progress(Progress{Phase: PhaseSnapshot, Total: src.Size})
		id, err := im.Snapshot.Snapshot(ctx, t.Site, t.Environment, reason)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
		}
		res.SnapshotID = id
		log.Debug("pre-import snapshot taken", "backup_id", id)
	}

	at := vectorapi.Target{SiteID: t.SiteID, EnvironmentID: t.EnvironmentID}
	var (
		imp  vectorapi.Import
		sent sent
		err  error
	)
	if direct {
		res.Direct = true
		imp, sent, err = im.importDirect(ctx, at, src, checked)
	} else {
		imp, sent, err = im.importSession(ctx, at, src, log)
	}
	res.ImportID = imp.ID
	if err != nil {
		return res, err
	}
	res.Bytes, res.SHA256 = sent.bytes, sent.sha256
	im.progress(Progress{Phase: PhaseImporting, Bytes: sent.bytes, Total: src.Size})
	if _, err := im.wait(ctx, at, imp); err != nil {
		return res, err
	}
	res.Duration = im.now().Sub(start)
	log.Info("import completed", "import_id", res.ImportID, "backup_id", res.SnapshotID,
		"bytes", res.Bytes, "duration", res.Duration, "direct", res.Direct)
	return res, nil
}

func (im *Importer) validate(t Target, src Source, o Options) error {
	switch {
	case im.API == nil:
		return errors.New("no API client configured")
	case t.Site == "" || t.Environment == "":
		return errors.New("the target needs a site and an environment name")
	case t.SiteID == "":
		return fmt.Errorf("%s has no Vector site id", t)
	case t.EnvironmentID != "" && !im.API.SupportsEnvironments():
		return fmt.Errorf("the configured API routes cannot import into an environment database: %w", vectorapi.ErrUnsupported)
	case src.Open == nil:
		return errors.New("the source cannot be opened")
	case src.Size == 0:
		return errors.New("the dump is empty")
	case src.Size < 0:
		return errors.New("the dump's size is unknown")
	case src.SHA256 != "" && !isSHA256(src.SHA256):
		return fmt.Errorf("the expected SHA-256 %q is not 64 hex digits", src.SHA256)
	case !o.NoSnapshot && im.Snapshot == nil:
		return errors.New("no snapshotter configured for the pre-import snapshot")
	case !im.direct(t, src, o) && im.maxSessionBytes() > 0 && src.Size > im.maxSessionBytes():
		return fmt.Errorf("%w: %d bytes, over the import session limit of %d bytes (%s)",
			ErrTooLarge, src.Size, im.maxSessionBytes(), humanBytes(im.maxSessionBytes()))
	}
	return nil
}

func (im *Importer) maxSessionBytes() int64 {
	if im.MaxSessionBytes == 0 {
		return vectorapi.MaxImportBytes
	}
	return im.MaxSessionBytes
}

// humanBytes writes n in binary units: "50 GiB", "1.5 MiB".
func humanBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " " + units[i]
}

// direct reports whether src goes to t as a direct import.
func (im *Importer) direct(t Target, src Source, o Options) bool {
	limit := o.DirectLimit
	switch {
	case limit < 0:
		return false
	case limit == 0 || limit > DefaultDirectLimit:
		limit = DefaultDirectLimit
	}
	return t.EnvironmentID == "" && im.API.SupportsDirectImport() && src.Size <= limit
}

// importDirect sends src, checked in a first pass before the snapshot, in
// one request (which starts the import, so nothing can be refused
// afterwards).
func (im *Importer) importDirect(ctx context.Context, at vectorapi.Target, src Source, checked sent) (vectorapi.Import, sent, error) {
	rc, err := src.Open(ctx)
	if err != nil {
		return vectorapi.Import{}, sent{}, fmt.Errorf("open the dump: %w", err)
	}
	defer rc.Close()
	m := newMeter(rc, src.Size, im.Progress)
	if err := im.spend(ctx, "import", at); err != nil {
		return vectorapi.Import{}, sent{}, err
	}
	imp, err := im.API.ImportDirect(ctx, at, sendName(src.Name), m.reader(), src.Size)
	if err != nil {
		return vectorapi.Import{}, sent{}, err
	}
	return imp, checked, nil
}

// spend waits for the budget to admit one database operation for the
// import into at.
func (im *Importer) spend(ctx context.Context, op string, at vectorapi.Target) error {
	if im.Budget == nil {
		return nil
	}
	ref := at.SiteID
	if at.EnvironmentID != "" {
		ref += "/" + at.EnvironmentID
	}
	if err := im.Budget(ctx, op, ref); err != nil {
		return fmt.Errorf("wait for API budget: %w", err)
	}
	return nil
}

// importSession uploads src through an import session and runs it. An
// expired upload URL costs one new session and a second upload.
func (im *Importer) importSession(ctx context.Context, at vectorapi.Target, src Source, log *slog.Logger) (vectorapi.Import, sent, error) {
	var (
		s     vectorapi.ImportSession
		done  sent
		parts []vectorapi.CompletedPart
		err   error
	)
	for attempt := 1; ; attempt++ {
		if err := im.spend(ctx, "import", at); err != nil {
			return vectorapi.Import{}, sent{}, err
		}
		s, err = im.API.CreateImportFile(ctx, at, sendName(src.Name), src.Size)
		var apiErr *vectorapi.Error
		if errors.Is(err, vectorapi.ErrRateLimited) && im.Pause != nil && errors.As(err, &apiErr) {
			// The account's budget is spent elsewhere: wait with every
			// other database operation, then ask again (no body was sent).
			wait := apiErr.RetryAfter
			if wait <= 0 {
				wait = time.Hour
			}
			log.Warn("waiting for API budget", "until", im.now().Add(wait).UTC().Format(time.RFC3339))
			im.Pause(im.now().Add(wait))
			attempt--
			continue
		}
		if err != nil {
			return vectorapi.Import{}, sent{}, err
		}
		if s.Multipart {
			upload := "(none)"
			if len(s.Parts) > 0 {
				upload = vectorapi.RedactURL(s.Parts[0].URL)
			}
			log.Debug("import session created", "import_id", s.ID, "upload", upload, "parts", s.PartCount)
		} else {
			log.Debug("import session created", "import_id", s.ID, "upload", vectorapi.RedactURL(s.UploadURL))
		}
		done, parts, err = im.upload(ctx, s, src)
		if err == nil {
			break
		}
		if attempt == 1 && errors.Is(err, vectorapi.ErrURLExpired) && ctx.Err() == nil {
			log.Warn("upload url expired; creating a new import session", "import_id", s.ID, "error", err)
			continue
		}
		return vectorapi.Import{}, sent{}, fmt.Errorf("import session %s: %w", s.ID, err)
	}

	if err := im.API.RunImport(ctx, at, s.ID, parts...); err != nil {
		if !errors.Is(err, vectorapi.ErrExportUncertain) || ctx.Err() != nil {
			return vectorapi.Import{ID: s.ID}, sent{}, err
		}
		// The run's answer was lost: go on only if the API shows the
		// import under way ("pending" cannot tell a run import from one
		// that never started).
		st, serr := im.API.ImportStatus(ctx, at, s.ID)
		if serr != nil || !started(st.Status) {
			return vectorapi.Import{ID: s.ID}, sent{}, fmt.Errorf("%w; import %s may or may not run: check its status before importing again", err, s.ID)
		}
		return st, done, nil
	}
	return vectorapi.Import{ID: s.ID, Status: vectorapi.StatusPending}, done, nil
}

// upload sends src to the session's URL, or in parts to its part URLs,
// and checks what was sent. The parts are to be reported to RunImport.
func (im *Importer) upload(ctx context.Context, s vectorapi.ImportSession, src Source) (sent, []vectorapi.CompletedPart, error) {
	if !s.Multipart {
		rc, err := src.Open(ctx)
		if err != nil {
			return sent{}, nil, fmt.Errorf("open the dump: %w", err)
		}
		defer rc.Close()
		m := newMeter(rc, src.Size, im.Progress)
		if err := im.API.Upload(ctx, s.UploadURL, m.reader(), src.Size); err != nil {
			return sent{}, nil, err
		}
		done, err := m.finish(src)
		return done, nil, err
	}
	// A failed part is sent again from its start: the reader must seek,
	// by opening the dump again if need be.
	r, err := openReopener(func() (io.ReadCloser, error) { return src.Open(ctx) })
	if err != nil {
		return sent{}, nil, fmt.Errorf("open the dump: %w", err)
	}
	defer r.Close()
	m := newMeter(r, src.Size, im.Progress)
	parts, err := im.API.UploadParts(ctx, s, m.reader(), src.Size)
	if err != nil {
		return sent{}, nil, err
	}
	done, err := m.finish(src)
	return done, parts, err
}

// probeBytes is how much of a dump probe reads.
const probeBytes = 64 << 10

// probe opens src and reads its first bytes, so that a dump that cannot be
// opened or read (a missing file, a backup that does not decrypt) is
// refused before anything is spent. What only the whole dump shows (its
// SHA-256, its ending) is checked as it is sent.
func (im *Importer) probe(ctx context.Context, src Source) error {
	rc, err := src.Open(ctx)
	if err != nil {
		return fmt.Errorf("open the dump: %w", err)
	}
	defer rc.Close()
	want := min(src.Size, probeBytes)
	n, err := io.CopyN(io.Discard, &ctxReader{ctx, rc}, want)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the dump ended after %d of %d bytes", n, src.Size)
	case err != nil:
		return fmt.Errorf("read the dump: %w", err)
	}
	return nil
}

// check reads src once and checks it without sending it.
func (im *Importer) check(ctx context.Context, src Source) (sent, error) {
	rc, err := src.Open(ctx)
	if err != nil {
		return sent{}, fmt.Errorf("open the dump: %w", err)
	}
	defer rc.Close()
	m := newMeter(rc, src.Size, nil)
	if _, err := io.Copy(io.Discard, io.LimitReader(&ctxReader{ctx, m}, src.Size)); err != nil {
		return sent{}, fmt.Errorf("read the dump: %w", err)
	}
	return m.finish(src)
}

// wait polls imp until the API reports it completed or failed.
func (im *Importer) wait(ctx context.Context, at vectorapi.Target, imp vectorapi.Import) (vectorapi.Import, error) {
	timeout := im.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay, maxDelay := im.pollIntervals()
	for {
		switch imp.Status {
		case vectorapi.StatusCompleted:
			return imp, nil
		case vectorapi.StatusFailed:
			msg := scrubMessage(imp.ErrorMessage)
			if msg == "" {
				msg = "the API gave no reason"
			}
			return imp, fmt.Errorf("import %s: %w: %s", imp.ID, ErrImportFailed, msg)
		}
		if imp.ID == "" {
			// A direct import answered with a status but no id: nothing
			// to poll.
			return imp, fmt.Errorf("the API reports the import %s without an id to follow", imp.Status)
		}
		select {
		case <-wctx.Done():
			return imp, im.stoppedWaiting(ctx, wctx, imp, timeout)
		case <-time.After(delay):
		}
		delay = min(2*delay, maxDelay)
		// The status query runs under ctx, not the timeout's context: one
		// query (bounded by the client's own timeout) may overrun it, but
		// its failure then is its own, not a deadline's.
		st, err := im.API.ImportStatus(ctx, at, imp.ID)
		if err != nil {
			if ctx.Err() != nil {
				return imp, im.stoppedWaiting(ctx, wctx, imp, timeout)
			}
			return imp, err
		}
		imp = st
	}
}

func (im *Importer) stoppedWaiting(ctx, wctx context.Context, imp vectorapi.Import, timeout time.Duration) error {
	if ctx.Err() != nil {
		return fmt.Errorf("stopped waiting for import %s, which the API may still complete: %w", imp.ID, ctx.Err())
	}
	return fmt.Errorf("import %s still %s after %s; the API may still complete it: %w", imp.ID, imp.Status, timeout, wctx.Err())
}

func (im *Importer) pollIntervals() (first, maxInterval time.Duration) {
	first, maxInterval = im.PollInterval, im.PollMaxInterval
	if first <= 0 {
		first = DefaultPollInterval
	}
	if maxInterval <= 0 {
		maxInterval = DefaultPollMaxInterval
	}
	return first, max(first, maxInterval)
}

func (im *Importer) now() time.Time {
	if im.Now != nil {
		return im.Now()
	}
	return time.Now()
}

func (im *Importer) logger() *slog.Logger {
	if im.Logger != nil {
		return im.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (im *Importer) progress(p Progress) {
	if im.Progress != nil {
		im.Progress(p)
	}
}

// started reports whether an import status shows a run import.
func started(status string) bool {
	switch status {
	case vectorapi.StatusProcessing, vectorapi.StatusCompleted, vectorapi.StatusFailed:
		return true
	}
	return false
}

func displayName(name string) string {
	if name == "" {
		return "the dump"
	}
	return name
}

// sendName is the file name the API is told: the last element of name.
func sendName(name string) string {
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	if base == "." || base == "/" || base == "" {
		return "database.sql"
	}
	return base
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// urlWithQuery matches a URL carrying a query string, which may be a
// presigned URL's signature.
var urlWithQuery = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]*\?[^\s"'<>]*`)

// scrubMessage reduces the URLs in an API message to scheme://host/path
// and trims it to one line of reasonable length.
func scrubMessage(msg string) string {
	msg = urlWithQuery.ReplaceAllStringFunc(msg, vectorapi.RedactURL)
	msg = strings.Join(strings.Fields(msg), " ")
	const maxLen = 1000
	if len(msg) > maxLen {
		cut := maxLen
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
