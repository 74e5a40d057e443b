package vectorapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"
)

// ImportSession is an import session. A single-upload session: PUT the
// dump to UploadURL before ExpiresAt (Upload), then RunImport. A multipart
// session (Multipart set, the openapi routes for dumps over about 100 MB):
// PUT the dump in PartCount parts, each to its own URL in Parts
// (UploadParts), then RunImport with the parts' ETags, which completes the
// upload and starts the import.
type ImportSession struct {
	ID string
	// UploadURL is the presigned PUT URL of a single-upload session. A
	// secret: log RedactURL of it.
	UploadURL string
	// ExpiresAt is when the upload URL(s) stop working (UTC); zero if
	// unknown.
	ExpiresAt time.Time

	// Multipart marks a session that takes the dump in parts; UploadURL is
	// then not used.
	Multipart bool
	// UploadID is the storage's id of the multipart upload (informational:
	// each part URL carries it).
	UploadID string
	// PartCount is the number of parts the session expects.
	PartCount int
	// Parts are the part URLs the session lists, in the API's order.
	Parts []UploadPart
	// ContentLength is the dump size the session was created for, as the
	// API repeats it; 0 if it did not say.
	ContentLength int64
	// PartSize is the size of every part but the last, if the API said;
	// 0 if not (UploadParts then derives it, see there).
	PartSize int64
}

// UploadPart is one part of a multipart import session.
type UploadPart struct {
	// Number is the part's number, from 1.
	Number int
	// URL is the part's presigned PUT URL. A secret: log RedactURL of it.
	URL string
	// Size is the part's size in bytes if the API said; 0 if not.
	Size int64
}

// CompletedPart is an uploaded part as RunImport reports it to the API:
// its number and the ETag storage answered its PUT with, verbatim (S3
// sends it quoted).
type CompletedPart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
}

// Import is the state of an import.
type Import struct {
	ID string
	// Status is StatusPending, StatusProcessing, StatusCompleted or
	// StatusFailed (the openapi routes also report "uploaded"), lower-cased;
	// treat any other value as still running.
	Status string
	// ErrorMessage says why a failed import failed.
	ErrorMessage string
	// StartedAt and CompletedAt are in UTC; zero if unknown.
	StartedAt, CompletedAt time.Time
}

// CreateImport creates an import session for t's database. Under
// RoutesOpenAPI the API needs the dump's size up front: use
// CreateImportFile there (CreateImport returns an error matching
// ErrUnsupported). Errors are as for CreateImportFile.
func (c *Client) CreateImport(ctx context.Context, t Target) (ImportSession, error) {
	return c.CreateImportFile(ctx, t, "", -1)
}

// CreateImportFile creates an import session for t's database, for a dump
// of size bytes named filename (size -1: unknown, documented routes only).
// The documented routes send no request body; the openapi routes send
// {"scope":"database","filename":…,"content_length":size}.
//
// The session may ask for a multipart upload (the openapi routes, for
// dumps over about 100 MB): see ImportSession and UploadParts.
//
// It is re-sent only after failures that prove the API did not act on it;
// a lost answer gives an error matching ErrExportUncertain. 401/403 match
// ErrUnauthorized, 404 ErrNotFound, 422 is an *Error with Fields.
func (c *Client) CreateImportFile(ctx context.Context, t Target, filename string, size int64) (ImportSession, error) {
	const name = "create import"
	method, path, err := c.path(opImportCreate, t, "")
	if err != nil {
		return ImportSession{}, fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opImportCreate, method: method, path: path,
		what: "the import session may have been created", avoid: "a second session"}
	if c.routes[opImportCreate].sendsSize {
		if size < 0 {
			return ImportSession{}, fmt.Errorf("%s: the %s routes need the dump's size (use CreateImportFile): %w", name, c.routeSet, ErrUnsupported)
		}
		if filename == "" {
			filename = "database.sql"
		}
		r.json, err = json.Marshal(struct {
			Scope         string `json:"scope"`
			Filename      string `json:"filename"`
			ContentLength int64  `json:"content_length"`
		}{"database", filename, size})
		if err != nil {
			return ImportSession{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	body, err := c.callAPI(ctx, r)
	if err != nil {
		return ImportSession{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return ImportSession{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	s, err := decodeImportSession(env.data)
	if err != nil {
		return ImportSession{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	return s, nil
}

// RunImport starts import importID of t once its dump is uploaded. After a
// multipart upload, pass the parts UploadParts returned: they go in the
// request body as {"parts":[{"part_number":1,"etag":"\"…\""},…]} (in
// part-number order), from which the API completes the multipart upload
// before it starts the import (the OpenAPI description of Run Import).
// Without parts the request has no body, as before.
//
// It is re-sent only after failures that prove the API did not act on it; a
// lost answer gives an error matching ErrExportUncertain (poll ImportStatus
// to learn whether it started). 422 (not ready, session expired, "Failed to
// finalize upload" for parts the storage refused) is an *Error with Fields.
// Parts with a number below 1, a repeated number or an empty ETag are
// refused before anything is sent.
func (c *Client) RunImport(ctx context.Context, t Target, importID string, parts ...CompletedPart) error {
	const name = "run import"
	method, path, err := c.path(opImportRun, t, importID)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opImportRun, method: method, path: path,
		what: "the import may have been started", avoid: "running it twice"}
	if len(parts) > 0 {
		if r.json, err = completionBody(parts); err != nil {
			return fmt.Errorf("%s %s: %w", name, importID, err)
		}
	}
	_, err = c.callAPI(ctx, r)
	return err
}

// ImportStatus returns the state of import importID of t. It is safe to
// repeat and is retried on 5xx and network errors. A 404 matches
// ErrNotFound; an answer without a status is an error.
func (c *Client) ImportStatus(ctx context.Context, t Target, importID string) (Import, error) {
	const name = "import status"
	method, path, err := c.path(opImportStatus, t, importID)
	if err != nil {
		return Import{}, fmt.Errorf("%s: %w", name, err)
	}
	body, err := c.callAPI(ctx, apiRequest{op: opImportStatus, method: method, path: path, safe: true})
	if err != nil {
		return Import{}, err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return Import{}, fmt.Errorf("%s %s: %w", name, importID, err)
	}
	im, err := decodeImport(env.data)
	if err != nil {
		return Import{}, fmt.Errorf("%s %s: %w", name, importID, err)
	}
	if im.Status == "" {
		return Import{}, fmt.Errorf("%s %s: the answer has no status", name, importID)
	}
	if im.ID == "" {
		im.ID = importID
	}
	return im, nil
}

// ImportDirect imports a dump of size bytes (at most DirectImportMaxBytes)
// into a site's development database in one request: multipart/form-data,
// field "file", streamed through an io.Pipe. The returned Import has a
// Status (StatusPending unless the API says otherwise) and an ID unless
// the API reports the import already finished.
//
// It returns an error matching ErrUnsupported under RoutesOpenAPI and for a
// Target with an EnvironmentID (use a session). It is re-sent only after
// failures that prove the API did not act on it, and only if body can be
// replayed (nothing read yet, or an io.Seeker); a lost answer gives an
// error matching ErrExportUncertain. A body shorter than size fails.
func (c *Client) ImportDirect(ctx context.Context, t Target, filename string, body io.Reader, size int64) (Import, error) {
	const name = "direct import"
	method, path, err := c.path(opImportDirect, t, "")
	if err != nil {
		return Import{}, fmt.Errorf("%s: %w", name, err)
	}
	if size < 0 || size > DirectImportMaxBytes {
		return Import{}, fmt.Errorf("%s: size %d is outside 0..%d bytes: use an import session", name, size, DirectImportMaxBytes)
	}
	mp, err := newMultipartBody(newSource(body, size), filename)
	if err != nil {
		return Import{}, fmt.Errorf("%s: %w", name, err)
	}
	r := apiRequest{op: opImportDirect, method: method, path: path, multipart: mp,
		what: "the import may have been started", avoid: "a second import"}
	answer, err := c.callAPI(ctx, r)
	if err != nil {
		return Import{}, err
	}
	env, err := decodeEnvelope(answer)
	if err != nil {
		return Import{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	im, err := decodeImport(env.data)
	if err == nil && im.ID == "" && im.Status != StatusCompleted && im.Status != StatusFailed {
		err = errors.New("the answer has no import id")
	}
	if err != nil {
		return Import{}, r.uncertain(fmt.Errorf("%s: %w", name, err))
	}
	if im.Status == "" {
		im.Status = StatusPending
	}
	return im, nil
}

// multipartBody is a direct import's request body: one form-data part
// "file" holding the dump. Its length is known in advance, so the request
// carries a Content-Length.
type multipartBody struct {
	src         *source
	boundary    string
	header      textproto.MIMEHeader
	length      int64
	contentType string
}

func newMultipartBody(src *source, filename string) (*multipartBody, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("make multipart boundary: %w", err)
	}
	m := &multipartBody{src: src, boundary: "vectord-" + hex.EncodeToString(b[:])}
	if filename == "" {
		filename = "database.sql"
	}
	quoted := strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "").Replace(filename)
	m.header = textproto.MIMEHeader{}
	m.header.Set("Content-Disposition", `form-data; name="file"; filename="`+quoted+`"`)
	m.header.Set("Content-Type", "application/sql")
	// The framing is the same whatever the content: measure it once.
	var n countWriter
	if err := m.frame(&n, func(io.Writer) error { return nil }); err != nil {
		return nil, err
	}
	m.length = int64(n) + src.size
	m.contentType = "multipart/form-data; boundary=" + m.boundary
	return m, nil
}

// write writes the whole body to w.
func (m *multipartBody) write(w io.Writer) error {
	return m.frame(w, m.src.copyTo)
}

func (m *multipartBody) frame(w io.Writer, content func(io.Writer) error) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(m.boundary); err != nil {
		return err
	}
	part, err := mw.CreatePart(m.header)
	if err != nil {
		return err
	}
	if err := content(part); err != nil {
		return err
	}
	return mw.Close()
}

type countWriter int64

func (n *countWriter) Write(p []byte) (int, error) {
	*n += countWriter(len(p))
	return len(p), nil
}
