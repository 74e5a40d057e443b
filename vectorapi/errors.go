package vectorapi

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Sentinel errors. Match them with errors.Is; the errors returned by the
// client wrap them with what was being done.
var (
	// ErrUnauthorized: the API refused the token (HTTP 401 or 403 on an API
	// call). Not retried.
	ErrUnauthorized = errors.New("the API token was rejected")
	// ErrNotFound: the API or the storage behind a presigned URL answered
	// 404 (unknown site, export, import, backup, backup download or
	// object).
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: the API answered 429 and the client did not (or could
	// no longer) wait; the *Error carries RetryAfter when the API said.
	ErrRateLimited = errors.New("rate limited by the API")
	// ErrExportUncertain: a request that starts work at the API (an export,
	// an import session, an import run, a direct import, a platform
	// backup, a backup download) may have been carried out but its answer
	// was lost (timeout, connection reset, 502, 504). It was not re-sent,
	// so that the work is not started twice; query the state (or wait)
	// before trying again.
	ErrExportUncertain = errors.New("the request may have been carried out; not re-sent to avoid doing it twice")
	// ErrURLExpired: a presigned URL was refused (HTTP 403, S3's
	// AccessDenied or "Request has expired"). Ask the API for a fresh URL.
	ErrURLExpired = errors.New("the presigned URL has expired or was refused")
	// ErrRangeIgnored: a Download with an offset got the whole object (HTTP
	// 200), a range that does not start at the offset, or a 416; or the
	// object changed since the validator a DownloadFrom named (a 200 to
	// If-Range, or a range of another version). Restart at 0.
	ErrRangeIgnored = errors.New("the server did not honour the range request")
	// ErrUnsupported: the configured route set asks for something the
	// client cannot do: environment targets or direct import with
	// RoutesOpenAPI, an import session without the dump's size.
	ErrUnsupported = errors.New("not supported")
)

// Error is an HTTP error answer from the API or from a presigned URL.
//
// errors.Is maps it to the sentinels: 401 and 403 from the API match
// ErrUnauthorized, 403 from a presigned URL matches ErrURLExpired (and not
// ErrUnauthorized), 404 matches ErrNotFound, 429 matches ErrRateLimited.
type Error struct {
	// Op says what was being done, e.g. "start export" or
	// "download https://bucket.s3.amazonaws.com/key.sql" (redacted URL).
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the API's (or S3's) message, sanitised; may be empty.
	Message string
	// Fields holds the per-field validation messages of a 422.
	Fields map[string][]string
	// RetryAfter is how long the API asked the client to wait (429 or 503
	// with Retry-After or X-RateLimit-Reset); 0 if it did not say.
	RetryAfter time.Duration

	// kind overrides the status-based sentinel mapping (presigned URLs).
	kind error
}

// Error reads e.g. `start export: HTTP 422: Validation failed (format: The
// selected format is invalid.)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.kind == nil && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden):
		fmt.Fprintf(&b, "the API token was rejected (HTTP %d): check api.token", e.StatusCode)
		return b.String()
	case e.kind == ErrURLExpired:
		fmt.Fprintf(&b, "the presigned URL has expired or was refused (HTTP %d", e.StatusCode)
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
		b.WriteString(")")
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d: ", e.StatusCode)
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(t)
	} else {
		b.WriteString("unexpected answer")
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		b.WriteString(" (")
		for i, k := range names {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(strings.Join(e.Fields[k], " "))
		}
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	return b.String()
}

// Is reports whether e matches one of the package's sentinels.
func (e *Error) Is(target error) bool {
	if e.kind != nil {
		return target == e.kind
	}
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return target == ErrUnauthorized
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// uncertainError reports a request that may have been carried out although
// its answer was lost. It matches ErrExportUncertain and unwraps to its cause.
// It reads e.g. "start export: HTTP 504: Gateway Timeout (the export may
// have been started; not re-sent to avoid a second export)".
type uncertainError struct {
	what  string // "the export may have been started"
	avoid string // "a second export"
	cause error  // says what was being done
}

func (e *uncertainError) Error() string {
	return fmt.Sprintf("%v (%s; not re-sent to avoid %s)", e.cause, e.what, e.avoid)
}

func (e *uncertainError) Unwrap() error { return e.cause }

func (e *uncertainError) Is(target error) bool { return target == ErrExportUncertain }

// timeoutError is the cause of an attempt given up for lack of progress.
type timeoutError struct {
	what string
	d    time.Duration
}

func (e *timeoutError) Error() string { return fmt.Sprintf("%s within %s", e.what, e.d) }

// Timeout marks the error as a timeout for net.Error-style checks.
func (e *timeoutError) Timeout() bool { return true }
