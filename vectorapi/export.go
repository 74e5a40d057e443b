package vectorapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Target names a database: a site's development database (EnvironmentID
// "") or one of its environments.
type Target struct {
	SiteID        string
	EnvironmentID string
}

// Export statuses.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
)

// Export is the state of a database export.
type Export struct {
	ID string
	// Status is StatusPending, StatusProcessing, StatusCompleted or
	// StatusFailed as the API reports it (lower-cased); treat any other
	// value as still running.
	Status string
	// DownloadURL is the presigned URL of a completed export; empty before
	// then, and empty for a completed export whose URL the API no longer
	// hands out (expired): export again. A secret: log RedactURL of it.
	DownloadURL string
	// ErrorMessage says why a failed export failed.
	ErrorMessage string
	// ExpiresAt is when DownloadURL stops working (UTC); zero if unknown.
	ExpiresAt time.Time
	// SizeBytes is the export's size as the API reports it; 0 if unknown.
	SizeBytes int64
}

// StartExport asks the API to export t's database; it spends one of the
// API's database operations. The returned Export has an ID and a Status
// (StatusPending unless the API says otherwise).
//
// It is re-sent only after failures that prove the API did not act on it
// (connection refused, 429, 500, 503). When the answer may have been lost
// after the request reached the API (timeout, connection reset, 502, 504,
// an unreadable 2xx) the error matches ErrExportUncertain: do not blindly
// start another export. If ctx ends after the request was sent the error
// matches both ctx's error and ErrExportUncertain. 401/403 match
// ErrUnauthorized, 404 ErrNotFound, a 429 the client did not sit out
// ErrRateLimited; a Target with an EnvironmentID under RoutesOpenAPI
// matches ErrUnsupported.
func (c *Client) StartExport(ctx context.Context, t Target) (Export, error) {
	const name = "start export"
	method, path, err := c.path(opExport, t, "")
	if err != nil {
		return Export{}, fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opExport, method: method, path: path,
		what: "the export may have been started", avoid: "a second export"}
	body, err := c.callAPI(ctx, r)
	if err != nil {
		return Export{}, err
	}
	e, err := func() (Export, error) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return Export{}, err
		}
		e, err := decodeExport(env.data)
		if err == nil && e.ID == "" {
			err = errors.New("the answer has no export id")
		}
		return e, err
	}()
	if err != nil {
		return Export{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	if e.Status == "" {
		e.Status = StatusPending
	}
	return e, nil
}

// ExportStatus returns the state of export exportID of t. It is safe to
// repeat and is retried on 5xx and network errors. A 404 matches
// ErrNotFound; an answer without a status, or with a field that cannot be
// read, is an error naming the field.
func (c *Client) ExportStatus(ctx context.Context, t Target, exportID string) (Export, error) {
	const name = "export status"
	method, path, err := c.path(opExportStatus, t, exportID)
	if err != nil {
		return Export{}, fmt.Errorf("%s: %w", name, err)
	}
	body, err := c.callAPI(ctx, apiRequest{op: opExportStatus, method: method, path: path, safe: true})
	if err != nil {
		return Export{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return Export{}, fmt.Errorf("%s %s: %w", name, exportID, err)
	}
	e, err := decodeExport(env.data)
	if err != nil {
		return Export{}, fmt.Errorf("%s %s: %w", name, exportID, err)
	}
	if e.Status == "" {
		return Export{}, fmt.Errorf("%s %s: the answer has no status", name, exportID)
	}
	if e.ID == "" {
		e.ID = exportID
	}
	return e, nil
}
