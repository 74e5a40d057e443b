package exporter

import (
	"context"
	"errors"
	"fmt"
)

// Failure reasons, as vectord_backup_failures_total labels them.
const (
	ReasonExportFailed  = "export_failed"
	ReasonExportTimeout = "export_timeout"
	ReasonDownload      = "download"
	ReasonURLExpired    = "url_expired"
	ReasonVerify        = "verify"
	ReasonStorage       = "storage"
	ReasonAPI           = "api"
	ReasonCanceled      = "canceled"
)

// Error is a failed backup job: what went wrong, classified for metrics.
type Error struct {
	Reason string // one of the Reason constants
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Reason classifies err for the failures metric. A nil error has no reason;
// an unclassified one counts as "api".
func Reason(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.As(err, &e):
		return e.Reason
	default:
		return ReasonAPI
	}
}

func fail(reason string, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}
