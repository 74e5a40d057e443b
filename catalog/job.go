package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Job states, as the control API reports them.
const (
	JobQueued      = "queued"
	JobExporting   = "exporting"   // export requested; ExportID known
	JobDownloading = "downloading" // export completed; URLExpiresAt known
	JobStoring     = "storing"
	JobSucceeded   = "succeeded" // BackupID is the catalog record
	JobFailed      = "failed"    // Error says why
)

// Job is the persisted state of one backup job, saved at each transition
// so that a restarted daemon resumes it (polls the same export) instead of
// requesting a new export. It never holds a download URL: presigned URLs
// are credentials and are not written to disk.
type Job struct {
	ID                string    `json:"job_id"`
	Site              string    `json:"site"`
	Environment       string    `json:"environment"`
	SiteID            string    `json:"site_id"`
	EnvironmentID     string    `json:"environment_id"`
	Trigger           string    `json:"trigger"`
	Reason            string    `json:"reason"`
	State             string    `json:"state"`
	ExportID          string    `json:"export_id"` // the export, or the platform backup's download
	PlatformBackupID  string    `json:"platform_backup_id,omitempty"`
	Source            string    `json:"source,omitempty"` // SourceExport (""), SourceBackup or SourceMirror
	ExportRequestedAt time.Time `json:"export_requested_at,omitzero"`
	URLExpiresAt      time.Time `json:"url_expires_at,omitzero"`
	BytesDone         int64     `json:"bytes_done"`
	BackupID          string    `json:"backup_id"`
	Error             string    `json:"error"`
	CreatedAt         time.Time `json:"created_at,omitzero"`
	UpdatedAt         time.Time `json:"updated_at,omitzero"`
}

func validState(s string) bool {
	switch s {
	case JobQueued, JobExporting, JobDownloading, JobStoring, JobSucceeded, JobFailed:
		return true
	}
	return false
}

// validate reports a job that cannot be saved.
func (j Job) validate() error {
	var bad []string
	if !validToken(j.ID) {
		bad = append(bad, fmt.Sprintf("job_id %q is empty or holds spaces or control characters", j.ID))
	}
	if !nameRE.MatchString(j.Site) {
		bad = append(bad, fmt.Sprintf("site %q is not a name ([a-z0-9][a-z0-9_-]*)", j.Site))
	}
	if !nameRE.MatchString(j.Environment) {
		bad = append(bad, fmt.Sprintf("environment %q is not a name ([a-z0-9][a-z0-9_-]*)", j.Environment))
	}
	if !validTrigger(j.Trigger) {
		bad = append(bad, fmt.Sprintf("trigger %q is not schedule, manual, pre-import or migrate", j.Trigger))
	}
	if !validState(j.State) {
		bad = append(bad, fmt.Sprintf("state %q is not queued, exporting, downloading, storing, succeeded or failed", j.State))
	}
	if j.BytesDone < 0 {
		bad = append(bad, fmt.Sprintf("bytes_done %d is negative", j.BytesDone))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w job: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// urlQueryRE matches an http(s) URL's query string and fragment, up to a
// space or quote, leaving punctuation that ends a sentence.
var urlQueryRE = regexp.MustCompile(`(?i)(\bhttps?://[^\s?#"'<>]*)[?#](?:[^\s"'<>]*[^\s"'<>.,:;!)\]])?`)

// redactURLs cuts the query string (a presigned URL's signature) and
// fragment off every http(s) URL in s.
func redactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlQueryRE.ReplaceAllString(s, "$1")
}

func (j Job) utc() Job {
	j.ExportRequestedAt = j.ExportRequestedAt.UTC()
	j.URLExpiresAt = j.URLExpiresAt.UTC()
	j.CreatedAt = j.CreatedAt.UTC()
	j.UpdatedAt = j.UpdatedAt.UTC()
	return j
}

// PutJob saves j, replacing any job with its id. Times are stored in UTC,
// and every http(s) URL in j.Error or j.Reason is stored without its query
// string or fragment, so a presigned URL's signature never reaches the
// disk. Errors: one matching ErrInvalid when the id is empty, site or
// environment is not a name, the trigger or state is unknown, or BytesDone
// is negative; ErrReadOnly; or ctx's error.
func (db *DB) PutJob(ctx context.Context, j Job) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("put job %s: %w", j.ID, err)
	}
	if err := j.validate(); err != nil {
		return fmt.Errorf("put job %s: %w", j.ID, err)
	}
	data, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("put job %s: %w", j.ID, err)
	}
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		jobs, err := bucket(tx, bucketJobs)
		if err != nil {
			return err
		}
		return jobs.Put([]byte(j.ID), data)
	})
	if err != nil {
		return fmt.Errorf("put job %s: %w", j.ID, err)
	}
	return nil
}

// encodeJob is a job as stored: times in UTC, URLs in its texts without
// their query strings.
func encodeJob(j Job) ([]byte, error) {
	j = j.utc()
	j.Error = redactURLs(j.Error)
	j.Reason = redactURLs(j.Reason)
	data, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return data, nil
}

func decodeJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, fmt.Errorf("decode job: %w", err)
	}
	return j.utc(), nil
}

// Job returns the job with the given id. Errors: ErrNotFound, ctx's error,
// or an error when the stored job is unreadable.
func (db *DB) Job(ctx context.Context, id string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	var j Job
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		var data []byte
		if jobs != nil {
			data = jobs.Get([]byte(id))
		}
		if data == nil {
			return ErrNotFound
		}
		var err error
		j, err = decodeJob(data)
		return err
	})
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// Jobs returns every saved job, oldest first (by CreatedAt, then id).
// Errors: ctx's error, or an error naming a job that is unreadable.
func (db *DB) Jobs(ctx context.Context) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var out []Job
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		if jobs == nil {
			return nil
		}
		return jobs.ForEach(func(k, v []byte) error {
			j, err := decodeJob(v)
			if err != nil {
				return fmt.Errorf("job %s: %w", k, err)
			}
			out = append(out, j)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b Job) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteJob removes the job with the given id. Errors: ErrNotFound,
// ErrReadOnly, or ctx's error.
func (db *DB) DeleteJob(ctx context.Context, id string) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		jobs, err := bucket(tx, bucketJobs)
		if err != nil {
			return err
		}
		if jobs.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return jobs.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}
