package catalog

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/oklog/ulid/v2"
)

// Triggers: what started a backup.
const (
	TriggerSchedule  = "schedule"
	TriggerManual    = "manual"
	TriggerPreImport = "pre-import"
	TriggerMigrate   = "migrate"
)

// Sources: how a backup was made (CONTRACT §9).
const (
	SourceExport = "export"
	SourceBackup = "backup"
	SourceMirror = "mirror"
)

// Compressions of a stored file.
const (
	CompressionZstd = "zstd"
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// Storage targets a backup can be stored on.
const (
	TargetLocal = "local"
	TargetS3    = "s3"
)

// Location is one place a backup's file is stored.
type Location struct {
	Target string `json:"target"` // TargetLocal or TargetS3 (a test target may have its own name)
	URI    string `json:"uri"`
}

// Record is one stored backup, in the JSON form `vectord list --json`
// prints and manifests hold. Its times are UTC.
type Record struct {
	ID            string `json:"id"`
	Site          string `json:"site"`
	Environment   string `json:"environment"`
	SiteID        string `json:"site_id"`
	EnvironmentID string `json:"environment_id"` // empty for the development DB
	ExportID      string `json:"export_id"`
	// Source is SourceExport, SourceBackup or SourceMirror; records written
	// before sources existed read as SourceExport.
	Source           string `json:"source"`
	PlatformBackupID string `json:"platform_backup_id"` // the Vector backup (source backup/mirror)
	Trigger          string `json:"trigger"`
	// Encrypted: stored age-encrypted to Recipients.
	Encrypted  bool     `json:"encrypted"`
	Recipients []string `json:"recipients"`
	// Pinned: kept by retention until unpinned.
	Pinned bool `json:"pinned"`
	// VerifiedAt is the RFC 3339 time of the last successful restore
	// drill, or empty.
	VerifiedAt  string     `json:"verified_at"`
	Reason      string     `json:"reason"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt time.Time  `json:"completed_at"`
	SizeBytes   int64      `json:"size_bytes"` // of the plain SQL
	SHA256      string     `json:"sha256"`     // of the plain SQL, lowercase hex
	StoredBytes int64      `json:"stored_bytes"`
	Compression string     `json:"compression"`
	Locations   []Location `json:"locations"`
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	idRE     = regexp.MustCompile(`^[0-7][0-9a-hjkmnp-tv-z]{25}$`)
)

// Times a record key can hold: StartedAt is stored as uint64 Unix
// nanoseconds, which int64 nanoseconds cover up to the year 2262.
var (
	minStarted = time.Unix(0, 0).UTC()
	maxStarted = time.Unix(0, math.MaxInt64).UTC()
)

// Validate reports whether every required field of r is present and well
// formed: id a 26-character lowercase ULID (as NewID makes); site and
// environment names matching [a-z0-9][a-z0-9_-]*; export_id non-empty,
// without spaces or control characters; trigger one of the three; started_at
// and completed_at set, started_at between 1970 and 2262, completed_at not
// before started_at; sizes not negative; sha256 64 lowercase hex digits;
// compression zstd, gzip or none; at least one location, each with a URI
// and a target name (local and s3 in production; [a-z0-9][a-z0-9_-]*, so
// that test targets fit too). The error matches ErrInvalid and names every field
// at fault.
func (r Record) Validate() error {
	var bad []string
	if !idRE.MatchString(r.ID) {
		bad = append(bad, fmt.Sprintf("id %q is not a lowercase ULID", r.ID))
	}
	if !nameRE.MatchString(r.Site) {
		bad = append(bad, fmt.Sprintf("site %q is not a name ([a-z0-9][a-z0-9_-]*)", r.Site))
	}
	if !nameRE.MatchString(r.Environment) {
		bad = append(bad, fmt.Sprintf("environment %q is not a name ([a-z0-9][a-z0-9_-]*)", r.Environment))
	}
	if !validToken(r.ExportID) {
		bad = append(bad, fmt.Sprintf("export_id %q is empty or holds spaces or control characters", r.ExportID))
	}
	if !validTrigger(r.Trigger) {
		bad = append(bad, fmt.Sprintf("trigger %q is not schedule, manual, pre-import or migrate", r.Trigger))
	}
	switch r.Source {
	case "", SourceExport, SourceBackup, SourceMirror:
	default:
		bad = append(bad, fmt.Sprintf("source %q is not export, backup or mirror", r.Source))
	}
	if r.VerifiedAt != "" {
		if _, err := time.Parse(time.RFC3339, r.VerifiedAt); err != nil {
			bad = append(bad, fmt.Sprintf("verified_at %q is not an RFC 3339 time", r.VerifiedAt))
		}
	}
	switch {
	case r.StartedAt.IsZero():
		bad = append(bad, "started_at is missing")
	case r.StartedAt.Before(minStarted) || r.StartedAt.After(maxStarted):
		bad = append(bad, fmt.Sprintf("started_at %s is outside 1970..2262", r.StartedAt.UTC().Format(time.RFC3339)))
	}
	switch {
	case r.CompletedAt.IsZero():
		bad = append(bad, "completed_at is missing")
	case !r.StartedAt.IsZero() && r.CompletedAt.Before(r.StartedAt):
		bad = append(bad, "completed_at is before started_at")
	}
	if r.SizeBytes < 0 {
		bad = append(bad, fmt.Sprintf("size_bytes %d is negative", r.SizeBytes))
	}
	if r.StoredBytes < 0 {
		bad = append(bad, fmt.Sprintf("stored_bytes %d is negative", r.StoredBytes))
	}
	if !sha256RE.MatchString(r.SHA256) {
		bad = append(bad, fmt.Sprintf("sha256 %q is not 64 lowercase hex digits", r.SHA256))
	}
	switch r.Compression {
	case CompressionZstd, CompressionGzip, CompressionNone:
	default:
		bad = append(bad, fmt.Sprintf("compression %q is not zstd, gzip or none", r.Compression))
	}
	bad = append(bad, locationProblems(r.Locations)...)
	if len(bad) > 0 {
		return fmt.Errorf("%w record: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// locationProblems describes what is wrong with a record's locations: none
// at all, or one without a target name ([a-z0-9][a-z0-9_-]*) or URI.
func locationProblems(locs []Location) []string {
	var bad []string
	if len(locs) == 0 {
		bad = append(bad, "locations is empty")
	}
	for i, l := range locs {
		if !nameRE.MatchString(l.Target) {
			bad = append(bad, fmt.Sprintf("locations[%d].target %q is not a target name such as local or s3", i, l.Target))
		}
		if l.URI == "" {
			bad = append(bad, fmt.Sprintf("locations[%d].uri is empty", i))
		}
	}
	return bad
}

func validTrigger(t string) bool {
	return t == TriggerSchedule || t == TriggerManual || t == TriggerPreImport || t == TriggerMigrate
}

// validToken reports whether s is non-empty and holds no spaces or control
// characters.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// utc returns r with its times in UTC and without monotonic clock readings,
// and the source older records lack filled in (export); an empty recipient
// list is nil.
func (r Record) utc() Record {
	r.StartedAt = r.StartedAt.UTC()
	r.CompletedAt = r.CompletedAt.UTC()
	if r.Source == "" {
		r.Source = SourceExport
	}
	if len(r.Recipients) == 0 {
		r.Recipients = nil
	}
	return r
}

// MarshalJSON writes r with an empty recipient list as [] rather than
// null, so every record's JSON form has the same shape.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record // without this method
	if r.Recipients == nil {
		r.Recipients = []string{}
	}
	return json.Marshal(plain(r))
}

// Normalized returns r as the catalog stores it: times in UTC, source set
// (export for records older than sources), no empty recipient list.
func (r Record) Normalized() Record { return r.utc() }

// SameFile reports whether r and o describe the same stored file: the
// same site, environment, start time, export id and compression, and so
// the same key on every target.
func (r Record) SameFile(o Record) bool {
	return r.Site == o.Site && r.Environment == o.Environment && r.StartedAt.Equal(o.StartedAt) &&
		r.ExportID == o.ExportID && r.Compression == o.Compression
}

// decodeRecord decodes and validates a stored record.
func decodeRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("decode record: %w", err)
	}
	if err := r.Validate(); err != nil {
		return Record{}, fmt.Errorf("decode record: %w", err)
	}
	return r.utc(), nil
}

// idGen makes process-wide monotonic ids. It is the package's only state:
// NewID's ordering promise spans the whole process, whoever calls it.
var idGen struct {
	sync.Mutex
	recent [16]ulid.ULID // the last id made in each of the last used milliseconds
	next   int           // the slot of recent to reuse for a new millisecond
}

// NewID returns a new catalog id for a backup started at t: a 26-character
// lowercase ULID. Ids sort by t at millisecond precision (times before 1970
// count as 1970). Ids made in one process for non-decreasing times are
// strictly increasing, also when many share a millisecond. It is safe for
// concurrent use.
func NewID(t time.Time) string {
	ms := uint64(0)
	if t.After(time.UnixMilli(0)) {
		ms = min(ulid.Timestamp(t), ulid.MaxTime())
	}
	idGen.Lock()
	defer idGen.Unlock()
	slot := -1
	for i, id := range idGen.recent {
		if !id.IsZero() && id.Time() == ms {
			slot = i
			break
		}
	}
	var id ulid.ULID
	ok := false
	if slot >= 0 {
		id, ok = nextID(idGen.recent[slot], ms)
	} else {
		slot = idGen.next
		idGen.next = (idGen.next + 1) % len(idGen.recent)
	}
	if !ok {
		id = randomID(ms)
	}
	idGen.recent[slot] = id
	return strings.ToLower(id.String())
}

// nextID returns the id following last in the same millisecond: last plus
// a random increment below 2^32. It reports false when ms is not last's
// millisecond or the entropy would overflow.
func nextID(last ulid.ULID, ms uint64) (ulid.ULID, bool) {
	if last.IsZero() || last.Time() != ms {
		return ulid.ULID{}, false
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails
	inc := uint64(binary.BigEndian.Uint32(b[:])) + 1
	next := last
	e := next[6:] // the 80 bits of entropy, big-endian
	for i := len(e) - 1; i >= 0 && inc > 0; i-- {
		s := uint64(e[i]) + (inc & 0xff)
		e[i] = byte(s)
		inc = (inc >> 8) + (s >> 8)
	}
	if inc > 0 {
		return ulid.ULID{}, false
	}
	return next, true
}

func randomID(ms uint64) ulid.ULID {
	var id ulid.ULID
	_ = id.SetTime(ms) // ms ≤ ulid.MaxTime
	_, _ = rand.Read(id[6:])
	return id
}
