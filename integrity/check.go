package integrity

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/storage"
)

// Kind names what a Finding found. The strings are stable: scripts and
// `vectord check --json` readers match them.
type Kind string

// The kinds of findings.
const (
	// KindMissingFile: a live record's location has no file.
	KindMissingFile Kind = "missing_file"
	// KindSizeMismatch: a live record's file does not have the record's
	// stored_bytes.
	KindSizeMismatch Kind = "size_mismatch"
	// KindCorrupt: with ReadData, a live record's file does not hold the
	// SQL the record describes (size, SHA-256) or the dump is incomplete.
	KindCorrupt Kind = "corrupt"
	// KindManifestMissing: a live record's file has no manifest beside it.
	KindManifestMissing Kind = "manifest_missing"
	// KindManifestMismatch: the manifest beside a live record's file does
	// not decode, or describes another backup (id, sha256, sizes).
	KindManifestMismatch Kind = "manifest_mismatch"
	// KindOrphanFile: a backup file that no live or deleting record names
	// on its target.
	KindOrphanFile Kind = "orphan_file"
	// KindOrphanManifest: a manifest whose backup file is not beside it and
	// that no record names.
	KindOrphanManifest Kind = "orphan_manifest"
	// KindDuplicateFile: two live records name one file; the finding names
	// the record that is not kept.
	KindDuplicateFile Kind = "duplicate_file"
	// KindPendingDelete: a record marked deleting whose delete did not
	// finish.
	KindPendingDelete Kind = "pending_delete"
	// KindPartial: a ".partial" file no writer holds.
	KindPartial Kind = "partial"
	// KindUnknownTarget: a live record's location names a target that is
	// not configured.
	KindUnknownTarget Kind = "unknown_target"
)

// Kinds lists every Kind, in the order reports sort them.
var Kinds = []Kind{
	KindMissingFile, KindSizeMismatch, KindCorrupt, KindManifestMissing, KindManifestMismatch,
	KindDuplicateFile, KindPendingDelete, KindOrphanFile, KindOrphanManifest, KindPartial, KindUnknownTarget,
}

// Finding is one departure from the invariants.
type Finding struct {
	Kind     Kind   `json:"kind"`
	BackupID string `json:"backup_id,omitempty"` // the record concerned, if any
	Target   string `json:"target"`              // target name ("local" for partial files)
	Key      string `json:"key"`                 // storage key, or path under the local root
	Detail   string `json:"detail"`              // one sentence for people
}

// String is the finding as one line of text.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:%s", f.Kind, f.Target, f.Key)
	if f.BackupID != "" {
		fmt.Fprintf(&b, " backup %s", f.BackupID)
	}
	fmt.Fprintf(&b, ": %s", f.Detail)
	return b.String()
}

// Report is what Check found. It is JSON-serialisable (`vectord check
// --json` prints it).
type Report struct {
	StartedAt time.Time `json:"started_at"`
	ReadData  bool      `json:"read_data"` // copies were read in full
	Records   int       `json:"records"`   // live records checked
	Deleting  int       `json:"deleting"`  // records marked deleting
	Files     int       `json:"files"`     // stored copies of live records looked at
	Verified  int       `json:"verified"`  // copies read in full and found good
	Findings  []Finding `json:"findings"`  // sorted by kind (as in Kinds), key, target, id
}

// OK reports whether the check found nothing wrong.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// Of returns the findings of one kind.
func (r Report) Of(k Kind) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// MarshalJSON prints no findings as [] rather than null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return json.Marshal(plain(r))
}

// Catalog is what Check reads of the catalog; *catalog.DB implements it.
type Catalog interface {
	// List returns the live records (f selects), newest first.
	List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error)
	// Deleting returns the records marked deleting.
	Deleting(ctx context.Context) ([]catalog.Record, error)
	// Get returns a live record; an error matching catalog.ErrNotFound when
	// there is none (or it is marked deleting).
	Get(ctx context.Context, id string) (catalog.Record, error)
}

// RepairCatalog is what Repair also changes; *catalog.DB opened writable
// implements it.
type RepairCatalog interface {
	Catalog
	Add(ctx context.Context, r catalog.Record) error
	SetLocations(ctx context.Context, id string, locs []catalog.Location) error
	MarkDeletingBatch(ctx context.Context, ids []string) error
	RemoveBatch(ctx context.Context, ids []string) error
}

// Checker checks a catalog against its storage targets. Its fields are set
// before use and not changed while it runs.
type Checker struct {
	Catalog Catalog
	// Targets are the configured storage targets; locations name them by
	// Name(), which must be unique.
	Targets []storage.Target
	// LocalRoot is the local directory where downloads leave ".partial"
	// files (storage.local.path, or the S3 spool); "" when there is none.
	LocalRoot string
	// ReadData reads every stored copy in full and checks its SQL and
	// SHA-256 (VerifyCopy), instead of its size only.
	ReadData bool
	// MinAge leaves out files modified less than MinAge before the check
	// started (a job may be writing them). Files modified after the start
	// are always left out.
	MinAge time.Duration
	// Busy, when set, names the backup keys that jobs in flight are
	// writing (a running daemon's): their files and manifests are not
	// orphans yet, and are left out.
	Busy   func(key string) bool
	Now    func() time.Time // time.Now when nil
	Logger *slog.Logger     // discards when nil
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// target returns the configured target named name, or nil.
func (c *Checker) target(name string) storage.Target {
	for _, t := range c.Targets {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

func (c *Checker) validate() error {
	if c.Catalog == nil {
		return errors.New("integrity: no catalog")
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if seen[t.Name()] {
			return fmt.Errorf("integrity: two targets are named %q", t.Name())
		}
		seen[t.Name()] = true
	}
	return nil
}

// tk is one object place: a target name and a key.
type tk struct{ target, key string }

// listing is what the targets held when Check listed them.
type listing struct {
	files     map[tk]storage.Info // backup files
	manifests map[tk]storage.Info // by the key of their backup file
}

// names indexes the records by the key of their file.
type names struct {
	live     map[string][]catalog.Record
	deleting map[string][]catalog.Record
}

func newNames(live, deleting []catalog.Record) (names, error) {
	n := names{live: map[string][]catalog.Record{}, deleting: map[string][]catalog.Record{}}
	for _, r := range live {
		k, err := KeyOf(r)
		if err != nil {
			return names{}, err
		}
		n.live[k] = append(n.live[k], r)
	}
	for _, r := range deleting {
		k, err := KeyOf(r)
		if err != nil {
			return names{}, err
		}
		n.deleting[k] = append(n.deleting[k], r)
	}
	return n, nil
}

// names reports whether a live or deleting record has a location on target
// for the file key.
func (n names) names(target, key string) bool {
	return anyLocatedOn(n.live[key], target) || anyLocatedOn(n.deleting[key], target)
}

func anyLocatedOn(rs []catalog.Record, target string) bool {
	for _, r := range rs {
		if locatedOn(r, target) {
			return true
		}
	}
	return false
}

func locatedOn(r catalog.Record, target string) bool {
	return slices.ContainsFunc(r.Locations, func(l catalog.Location) bool { return l.Target == target })
}

// targetNames returns the distinct target names of r's locations, in order.
func targetNames(r catalog.Record) []string {
	var out []string
	for _, l := range r.Locations {
		if !slices.Contains(out, l.Target) {
			out = append(out, l.Target)
		}
	}
	return out
}

// check is one run of Check.
type check struct {
	c      *Checker
	start  time.Time
	cutoff time.Time // files modified after this are left out
	ls     listing
	rep    Report
}

func (k *check) add(f Finding) { k.rep.Findings = append(k.rep.Findings, f) }

// recent reports whether a file modified at t may still be being written.
func (k *check) recent(t time.Time) bool { return t.After(k.cutoff) }

// Check compares the catalog with the storage targets and reports every
// departure from the invariants. It changes nothing. Its error means the
// check could not be completed (a target could not be listed or read, the
// catalog could not be read, ctx ended), never that something is wrong:
// that is what the Report says.
func (c *Checker) Check(ctx context.Context) (Report, error) {
	if err := c.validate(); err != nil {
		return Report{}, err
	}
	start := c.now()
	k := &check{c: c, start: start, cutoff: start.Add(-c.MinAge),
		rep: Report{StartedAt: start.UTC(), ReadData: c.ReadData, Findings: []Finding{}}}

	// Storage first, then the catalog: a job commits its file and manifest
	// before its record, so any record seen below has its files listed.
	if err := k.list(ctx); err != nil {
		return Report{}, err
	}
	partials, err := findPartials(ctx, c.LocalRoot)
	if err != nil {
		return Report{}, err
	}
	live, err := c.Catalog.List(ctx, catalog.Filter{})
	if err != nil {
		return Report{}, fmt.Errorf("integrity: read catalog: %w", err)
	}
	deleting, err := c.Catalog.Deleting(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("integrity: read catalog: %w", err)
	}
	k.rep.Records, k.rep.Deleting = len(live), len(deleting)
	n, err := newNames(live, deleting)
	if err != nil {
		return Report{}, fmt.Errorf("integrity: %w", err)
	}

	for _, r := range live {
		key, _ := KeyOf(r) // newNames checked it
		dup := len(n.live[key]) > 1
		if err := k.record(ctx, r, key, dup); err != nil {
			return Report{}, err
		}
	}
	if err := k.duplicates(ctx, n); err != nil {
		return Report{}, err
	}
	for _, r := range deleting {
		k.pending(r, n)
	}
	if err := k.orphans(ctx, n); err != nil {
		return Report{}, err
	}
	for _, p := range partials {
		if k.recent(p.modTime) {
			continue
		}
		k.add(Finding{Kind: KindPartial, Target: partialTarget, Key: p.key,
			Detail: "partial download that no writer holds (left by an interrupted download)"})
	}
	sortFindings(k.rep.Findings)
	return k.rep, nil
}

// list lists every target.
func (k *check) list(ctx context.Context) error {
	k.ls = listing{files: map[tk]storage.Info{}, manifests: map[tk]storage.Info{}}
	for _, t := range k.c.Targets {
		infos, err := t.List(ctx, "")
		if err != nil {
			return fmt.Errorf("integrity: list %s: %w", t.Name(), err)
		}
		for _, info := range infos {
			if isBackupKey(info.Key) {
				k.ls.files[tk{t.Name(), info.Key}] = info
			} else if b, ok := manifestOf(info.Key); ok {
				k.ls.manifests[tk{t.Name(), b}] = info
			}
		}
	}
	return nil
}

// stillLive reports whether the record id is still live with a location on
// target: a record that retention marked or removed since the catalog was
// read is not reported.
func (k *check) stillLive(ctx context.Context, id, target string) (bool, error) {
	r, err := k.c.Catalog.Get(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("integrity: read catalog: %w", err)
	}
	return locatedOn(r, target), nil
}

// record checks one live record's copies and manifests.
func (k *check) record(ctx context.Context, r catalog.Record, key string, dup bool) error {
	for _, name := range targetNames(r) {
		t := k.c.target(name)
		if t == nil {
			k.add(Finding{Kind: KindUnknownTarget, BackupID: r.ID, Target: name, Key: key,
				Detail: fmt.Sprintf("the record has a copy on target %q, which is not configured", name)})
			continue
		}
		info, ok := k.ls.files[tk{name, key}]
		if !ok {
			// Not listed: committed since, or really missing?
			var err error
			info, err = t.Stat(ctx, key)
			if errors.Is(err, storage.ErrNotExist) {
				live, err := k.stillLive(ctx, r.ID, name)
				if err != nil {
					return err
				}
				if live {
					k.add(Finding{Kind: KindMissingFile, BackupID: r.ID, Target: name, Key: key,
						Detail: fmt.Sprintf("the record's copy on %s is missing", name)})
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("integrity: %s: stat %s: %w", name, key, err)
			}
		}
		k.rep.Files++
		if info.Size != r.StoredBytes {
			k.add(Finding{Kind: KindSizeMismatch, BackupID: r.ID, Target: name, Key: key,
				Detail: fmt.Sprintf("the stored file has %d bytes, the record says %d", info.Size, r.StoredBytes)})
		} else if k.c.ReadData {
			switch err := VerifyCopy(ctx, t, key, r); {
			case err == nil:
				k.rep.Verified++
			case errors.Is(err, ErrNotDecrypted):
			case errors.Is(err, ErrCorrupt):
				k.add(Finding{Kind: KindCorrupt, BackupID: r.ID, Target: name, Key: key, Detail: err.Error()})
			case errors.Is(err, storage.ErrNotExist):
				live, err := k.stillLive(ctx, r.ID, name)
				if err != nil {
					return err
				}
				if live {
					k.add(Finding{Kind: KindMissingFile, BackupID: r.ID, Target: name, Key: key,
						Detail: fmt.Sprintf("the record's copy on %s disappeared while it was read", name)})
				}
				continue
			default:
				return fmt.Errorf("integrity: %s: %w", name, err)
			}
		}
		if dup {
			continue // duplicates records cannot all match one manifest; see duplicates
		}
		if err := k.manifest(ctx, r, t, key); err != nil {
			return err
		}
	}
	return nil
}

// manifest checks the manifest beside one live record's copy.
func (k *check) manifest(ctx context.Context, r catalog.Record, t storage.Target, key string) error {
	name := t.Name()
	m, err := DecodeManifest(ctx, t, storage.ManifestKey(key))
	switch {
	case errors.Is(err, storage.ErrNotExist):
		live, err := k.stillLive(ctx, r.ID, name)
		if err != nil {
			return err
		}
		if live {
			k.add(Finding{Kind: KindManifestMissing, BackupID: r.ID, Target: name, Key: key,
				Detail: "no manifest beside the file: the catalog cannot be rebuilt from this copy"})
		}
		return nil
	case errors.Is(err, ErrBadManifest):
		k.add(Finding{Kind: KindManifestMismatch, BackupID: r.ID, Target: name, Key: key, Detail: err.Error()})
		return nil
	case err != nil:
		return fmt.Errorf("integrity: %s: read manifest of %s: %w", name, key, err)
	}
	if d := manifestDiff(m, r); d != "" {
		k.add(Finding{Kind: KindManifestMismatch, BackupID: r.ID, Target: name, Key: key, Detail: d})
	}
	return nil
}

// manifestDiff says how manifest m departs from record r, or "" when it
// describes r. Locations are not compared: a manifest lists the holders
// when it was written.
func manifestDiff(m, r catalog.Record) string {
	var d []string
	if m.ID != r.ID {
		d = append(d, fmt.Sprintf("it names backup %s", m.ID))
	}
	if m.SHA256 != r.SHA256 {
		d = append(d, fmt.Sprintf("sha256 %s, the record says %s", m.SHA256, r.SHA256))
	}
	if m.SizeBytes != r.SizeBytes {
		d = append(d, fmt.Sprintf("size_bytes %d, the record says %d", m.SizeBytes, r.SizeBytes))
	}
	if m.StoredBytes != r.StoredBytes {
		d = append(d, fmt.Sprintf("stored_bytes %d, the record says %d", m.StoredBytes, r.StoredBytes))
	}
	if len(d) == 0 {
		return ""
	}
	return "the manifest does not describe this backup: " + strings.Join(d, "; ")
}

// duplicates reports every live record that shares its file with another
// and is not the one to keep.
func (k *check) duplicates(ctx context.Context, n names) error {
	for key, group := range n.live {
		if len(group) < 2 {
			continue
		}
		keep, why, err := k.c.keeper(ctx, group, key)
		if err != nil {
			return err
		}
		for _, r := range group {
			if r.ID == keep.ID {
				continue
			}
			k.add(Finding{Kind: KindDuplicateFile, BackupID: r.ID, Target: r.Locations[0].Target, Key: key,
				Detail: fmt.Sprintf("backup %s records the same file; %s is the one to keep (%s)", r.ID, keep.ID, why)})
		}
	}
	return nil
}

// keeper picks, among live records sharing the file key, the one to keep:
// the one a manifest beside the file names, else the oldest id.
func (c *Checker) keeper(ctx context.Context, group []catalog.Record, key string) (catalog.Record, string, error) {
	var tried []string
	for _, r := range group {
		for _, name := range targetNames(r) {
			t := c.target(name)
			if t == nil || slices.Contains(tried, name) {
				continue
			}
			tried = append(tried, name)
			m, err := DecodeManifest(ctx, t, storage.ManifestKey(key))
			if errors.Is(err, storage.ErrNotExist) || errors.Is(err, ErrBadManifest) {
				continue
			}
			if err != nil {
				return catalog.Record{}, "", fmt.Errorf("integrity: %s: read manifest of %s: %w", name, key, err)
			}
			for _, g := range group {
				if g.ID == m.ID {
					return g, "the manifest on " + name + " names it", nil
				}
			}
		}
	}
	oldest := slices.MinFunc(group, func(a, b catalog.Record) int { return strings.Compare(a.ID, b.ID) })
	return oldest, "no manifest names either; it has the oldest id", nil
}

// pending reports a record marked deleting.
func (k *check) pending(r catalog.Record, n names) {
	key, _ := KeyOf(r)
	target := ""
	if len(r.Locations) > 0 {
		target = r.Locations[0].Target
	}
	detail := "marked deleting, but its delete did not finish"
	if others := n.live[key]; len(others) > 0 {
		detail += fmt.Sprintf("; its file is also recorded by live backup %s, which keeps it", others[0].ID)
	}
	k.add(Finding{Kind: KindPendingDelete, BackupID: r.ID, Target: target, Key: key, Detail: detail})
}

// orphans reports the backup files and manifests no record names, after a
// second look: retention may have removed file and record since they were
// listed, and a job may have recorded its file since the catalog was read.
func (k *check) orphans(ctx context.Context, n names) error {
	var files, manifests []tk
	busy := func(key string) bool { return k.c.Busy != nil && k.c.Busy(key) }
	for p, info := range k.ls.files {
		if !n.names(p.target, p.key) && !k.recent(info.ModTime) && !busy(p.key) {
			files = append(files, p)
		}
	}
	for p, info := range k.ls.manifests {
		if _, ok := k.ls.files[p]; !ok && !n.names(p.target, p.key) && !k.recent(info.ModTime) && !busy(p.key) {
			manifests = append(manifests, p)
		}
	}
	if len(files)+len(manifests) == 0 {
		return nil
	}
	// Look again: still there?
	files, err := k.stillThere(ctx, files, false)
	if err != nil {
		return err
	}
	manifests, err = k.stillThere(ctx, manifests, true)
	if err != nil {
		return err
	}
	// Still nobody's?
	live, err := k.c.Catalog.List(ctx, catalog.Filter{})
	if err != nil {
		return fmt.Errorf("integrity: read catalog: %w", err)
	}
	deleting, err := k.c.Catalog.Deleting(ctx)
	if err != nil {
		return fmt.Errorf("integrity: read catalog: %w", err)
	}
	if n, err = newNames(live, deleting); err != nil {
		return fmt.Errorf("integrity: %w", err)
	}
	for _, p := range files {
		if n.names(p.target, p.key) {
			continue
		}
		o, err := k.c.orphan(ctx, p.target, p.key, k.c.ReadData)
		if err != nil {
			return err
		}
		k.add(Finding{Kind: KindOrphanFile, BackupID: o.manifest.ID, Target: p.target, Key: p.key, Detail: o.detail})
	}
	for _, p := range manifests {
		if n.names(p.target, p.key) {
			continue
		}
		k.add(Finding{Kind: KindOrphanManifest, Target: p.target, Key: storage.ManifestKey(p.key),
			Detail: "a manifest without its backup file beside it; it holds no data"})
	}
	return nil
}

// stillThere keeps the orphan candidates that are still stored: backup
// files, or manifests whose file is still absent.
func (k *check) stillThere(ctx context.Context, ps []tk, manifest bool) ([]tk, error) {
	var out []tk
	for _, p := range ps {
		t := k.c.target(p.target)
		key := p.key
		if manifest {
			key = storage.ManifestKey(p.key)
		}
		info, err := t.Stat(ctx, key)
		if errors.Is(err, storage.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("integrity: %s: stat %s: %w", p.target, key, err)
		}
		if k.recent(info.ModTime) {
			continue
		}
		if manifest {
			if _, err := t.Stat(ctx, p.key); err == nil {
				continue // its file appeared: a job writing now
			} else if !errors.Is(err, storage.ErrNotExist) {
				return nil, fmt.Errorf("integrity: %s: stat %s: %w", p.target, p.key, err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// orphanAction is what repair does with an orphan file.
type orphanAction int

const (
	orphanLeave  orphanAction = iota // keep it, report it
	orphanAdopt                      // record it from its manifest
	orphanDelete                     // no manifest: never acknowledged
)

// orphanFile is what is known of an orphan backup file.
type orphanFile struct {
	action   orphanAction
	manifest catalog.Record // with orphanAdopt (and when a manifest named a backup)
	detail   string
}

// orphan looks at the backup file key on target, which no record names:
// its manifest (beside it, else beside a copy on another target) decides
// whether it is a backup a crash left unrecorded (adopt it), a file never
// acknowledged (delete it), or something to leave to a person.
func (c *Checker) orphan(ctx context.Context, target, key string, readData bool) (orphanFile, error) {
	t := c.target(target)
	var m catalog.Record
	var found bool
	var bad []string
	for i, u := range append([]storage.Target{t}, c.Targets...) {
		if found {
			break
		}
		if i > 0 && u.Name() == target {
			continue // looked at first
		}
		rec, err := DecodeManifest(ctx, u, storage.ManifestKey(key))
		switch {
		case errors.Is(err, storage.ErrNotExist):
		case errors.Is(err, ErrBadManifest):
			bad = append(bad, err.Error())
		case err != nil:
			return orphanFile{}, fmt.Errorf("integrity: %s: read manifest of %s: %w", u.Name(), key, err)
		default:
			m, found = rec, true
		}
	}
	if !found {
		if len(bad) > 0 {
			return orphanFile{action: orphanLeave, detail: "a backup file no record names, whose manifest is unreadable (" +
				strings.Join(bad, "; ") + "); left for a person to look at"}, nil
		}
		return orphanFile{action: orphanDelete,
			detail: "a backup file no record names and without a manifest: its job never recorded it; repair deletes it"}, nil
	}
	var err error
	if readData {
		err = VerifyCopy(ctx, t, key, m)
	} else {
		var st copyState
		st, err = statCopy(ctx, t, key, m)
		if err == nil && st == copyMissing {
			err = storage.ErrNotExist
		} else if err == nil && st == copyBad {
			err = fmt.Errorf("%w: its size is not the manifest's stored_bytes %d", ErrCorrupt, m.StoredBytes)
		}
	}
	switch {
	case err == nil, errors.Is(err, ErrNotDecrypted):
	case errors.Is(err, ErrCorrupt):
		return orphanFile{action: orphanLeave, manifest: m, detail: fmt.Sprintf(
			"a backup file no record names; its manifest names backup %s, but the file does not match it (%v); left for a person to look at", m.ID, err)}, nil
	case errors.Is(err, storage.ErrNotExist):
		return orphanFile{action: orphanLeave, manifest: m, detail: "the file disappeared while it was checked"}, nil
	default:
		return orphanFile{}, fmt.Errorf("integrity: %s: %w", target, err)
	}
	// Does the catalog know the backup the manifest names?
	rec, err := c.Catalog.Get(ctx, m.ID)
	switch {
	case err == nil:
		if rkey, _ := KeyOf(rec); rkey != key {
			return orphanFile{action: orphanLeave, manifest: m, detail: fmt.Sprintf(
				"a backup file no record names; its manifest names backup %s, which the catalog records with another file (%s); left for a person to look at", m.ID, rkey)}, nil
		}
		return orphanFile{action: orphanAdopt, manifest: m, detail: fmt.Sprintf(
			"a copy of backup %s that its record does not list (the file matches its manifest); repair adds it to the record", m.ID)}, nil
	case !errors.Is(err, catalog.ErrNotFound):
		return orphanFile{}, fmt.Errorf("integrity: read catalog: %w", err)
	}
	deleting, err := c.Catalog.Deleting(ctx)
	if err != nil {
		return orphanFile{}, fmt.Errorf("integrity: read catalog: %w", err)
	}
	if slices.ContainsFunc(deleting, func(r catalog.Record) bool { return r.ID == m.ID }) {
		return orphanFile{action: orphanLeave, manifest: m, detail: fmt.Sprintf(
			"a copy of backup %s, which is being deleted, that its record does not list; left for a person to look at", m.ID)}, nil
	}
	return orphanFile{action: orphanAdopt, manifest: m, detail: fmt.Sprintf(
		"a backup file no record names; its manifest names backup %s (%s/%s, started %s) and the file matches it: a crash left it unrecorded; repair adopts it",
		m.ID, m.Site, m.Environment, m.StartedAt.Format(time.RFC3339))}, nil
}

// sortFindings sorts by kind (in the order of Kinds), key, target, id.
func sortFindings(fs []Finding) {
	rank := func(k Kind) int {
		if i := slices.Index(Kinds, k); i >= 0 {
			return i
		}
		return len(Kinds)
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(rank(a.Kind), rank(b.Kind)), strings.Compare(a.Key, b.Key),
			strings.Compare(a.Target, b.Target), strings.Compare(a.BackupID, b.BackupID))
	})
}
