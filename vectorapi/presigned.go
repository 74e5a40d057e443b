package vectorapi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RedactURL reduces a URL to scheme://host/path: no query (a presigned
// URL's signature), no fragment, no user info. A string that is not an
// absolute URL gives "(invalid URL)".
func RedactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// scrubURLs redacts every URL in s.
func scrubURLs(s string) string {
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}

// scrubbedError carries err with every URL in its text redacted.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{msg: scrubURLs(err.Error()), err: err}
}

// checkPresigned validates a presigned URL without quoting it.
func checkPresigned(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}

// Download is an open download. Close Body when done; a Read fails with a
// timeout error when no data arrives for Options.Timeout (however long the
// caller takes between reads).
type Download struct {
	// Body streams the object from Offset on.
	Body io.ReadCloser
	// Offset is where Body starts in the object.
	Offset int64
	// ContentLength is the length of Body, -1 if unknown.
	ContentLength int64
	// TotalSize is the size of the whole object (from Content-Range, or
	// Content-Length for a whole-object answer), -1 if unknown.
	TotalSize int64
	// Validator identifies the version of the object that answered: its
	// ETag when the server sent a strong one, else its Last-Modified date
	// when that is a strong validator (the answer's Date is at least a
	// second later), else "". Pass the first answer's Validator to
	// DownloadFrom when resuming, so that a changed object is sent whole
	// instead of being spliced onto the bytes already read.
	Validator string
}

// Download starts a plain GET of a presigned URL (no Authorization header,
// not counted against the API budget), from offset on. It retries 5xx, 429
// and network errors before the answer arrives; a body cut short later is
// the caller's to resume with a new offset, preferably with DownloadFrom and
// the first answer's Validator.
//
// With offset > 0 it sends "Range: bytes=offset-" and requires a 206 whose
// Content-Range starts at offset; a 200, another range or a 416 gives an
// error matching ErrRangeIgnored. A 403 (S3's AccessDenied, "Request has
// expired") gives an error matching ErrURLExpired, a 404 one matching
// ErrNotFound. Errors name the URL as RedactURL does. The body is passed
// through as stored (no transparent decompression).
//
// Download is DownloadFrom with no validator: with an offset it checks only
// that the range fits, not that the object is the one read before.
func (c *Client) Download(ctx context.Context, rawURL string, offset int64) (*Download, error) {
	return c.DownloadFrom(ctx, rawURL, offset, "")
}

// DownloadFrom is Download resuming a transfer of the object version that
// validator names (a Download's Validator from an earlier answer for the
// same object). With offset > 0 and a validator it also sends "If-Range:
// validator", so that a server whose object has changed since answers 200
// with the whole new object; that answer, and a 206 whose ETag or
// Last-Modified differs from validator (a server ignoring If-Range), give
// an error matching ErrRangeIgnored: the caller must start again from byte
// zero. With offset 0, or an empty validator, it is Download. A validator
// that is not a quoted strong entity tag or an HTTP date is refused.
func (c *Client) DownloadFrom(ctx context.Context, rawURL string, offset int64, validator string) (*Download, error) {
	name := "download " + RedactURL(rawURL)
	if err := checkPresigned(rawURL); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if offset < 0 {
		return nil, fmt.Errorf("%s: negative offset %d", name, offset)
	}
	if offset == 0 {
		validator = ""
	}
	if validator != "" && !validIfRange(validator) {
		return nil, fmt.Errorf("%s: validator %q is neither a strong entity tag nor an HTTP date", name, excerpt(validator, 80))
	}
	var d *Download
	err := c.retry(ctx, opDownload, false, nil, func(ctx context.Context) verdict {
		var v verdict
		d, v = c.downloadAttempt(ctx, rawURL, offset, validator, name)
		return v
	})
	return d, err
}

// strongETag reports whether v is a strong entity tag: a quoted string of
// etagc characters, not marked weak (W/).
func strongETag(v string) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		if c := v[i]; c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// validIfRange reports whether v can be sent as If-Range: a strong entity
// tag or an HTTP date.
func validIfRange(v string) bool {
	if strongETag(v) {
		return true
	}
	_, err := http.ParseTime(v)
	return err == nil
}

// validatorOf returns the validator of an answer: its ETag if strong, else
// its Last-Modified if that is a strong validator (RFC 9110 §8.8.2.2: the
// Date it was sent with is at least one second later), else "".
func validatorOf(h http.Header) string {
	if etag := strings.TrimSpace(h.Get("ETag")); strongETag(etag) {
		return etag
	}
	lm := strings.TrimSpace(h.Get("Last-Modified"))
	modified, err := http.ParseTime(lm)
	if err != nil {
		return ""
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil || date.Sub(modified) < time.Second {
		return ""
	}
	return lm
}

// sameVersion reports whether an answer with header h may be the object
// version validator names: false only when the answer carries a validator
// of the same kind that differs.
func sameVersion(validator string, h http.Header) bool {
	if strongETag(validator) {
		etag := strings.TrimSpace(h.Get("ETag"))
		return etag == "" || etag == validator
	}
	want, err := http.ParseTime(validator)
	if err != nil {
		return true
	}
	got, err := http.ParseTime(h.Get("Last-Modified"))
	return err != nil || got.Equal(want)
}

func (c *Client) downloadAttempt(ctx context.Context, rawURL string, offset int64, validator, name string) (*Download, verdict) {
	dctx, wd, cancel := withWatchdog(ctx, c.timeout, "no data")
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, rawURL, nil)
	if err != nil {
		wd.stop()
		cancel(nil)
		return nil, verdict{err: fmt.Errorf("%s: %w", name, scrub(err))}
	}
	req.Header.Set("User-Agent", c.userAgent)
	// Byte offsets must refer to the stored object: no transparent gzip.
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(opDownload, "error")
		err = fmt.Errorf("%s: %w", name, transportError(ctx, dctx, err))
		wd.stop()
		cancel(nil)
		return nil, verdict{err: err, retry: ctx.Err() == nil}
	}
	c.observe(opDownload, strconv.Itoa(resp.StatusCode))
	wd.kick()

	fail := func(err error) (*Download, verdict) {
		resp.Body.Close()
		wd.stop()
		cancel(nil)
		return nil, verdict{err: err}
	}
	d := &Download{Offset: offset, ContentLength: resp.ContentLength, TotalSize: -1, Validator: validatorOf(resp.Header)}
	switch {
	case resp.StatusCode == http.StatusOK && offset == 0:
		d.TotalSize = resp.ContentLength
	case resp.StatusCode == http.StatusOK && validator != "":
		return fail(fmt.Errorf("%s: asked for the bytes from %d on of the object as it was (If-Range), got the whole object (HTTP 200): it changed: %w", name, offset, ErrRangeIgnored))
	case resp.StatusCode == http.StatusOK:
		return fail(fmt.Errorf("%s: asked for the bytes from %d on, got the whole object (HTTP 200): %w", name, offset, ErrRangeIgnored))
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		start, end, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case validator != "" && !sameVersion(validator, resp.Header):
			return fail(fmt.Errorf("%s: asked for the bytes from %d on of the object as it was, got a range of another version (HTTP 206, ETag %q, Last-Modified %q): %w",
				name, offset, excerpt(resp.Header.Get("ETag"), 80), excerpt(resp.Header.Get("Last-Modified"), 40), ErrRangeIgnored))
		case err != nil:
			return fail(fmt.Errorf("%s: HTTP 206 with %w: %w", name, err, ErrRangeIgnored))
		case start != offset:
			return fail(fmt.Errorf("%s: asked for the bytes from %d on, got %d-%d: %w", name, offset, start, end, ErrRangeIgnored))
		case resp.ContentLength >= 0 && resp.ContentLength != end-start+1:
			return fail(fmt.Errorf("%s: Content-Range %d-%d does not match Content-Length %d: %w", name, start, end, resp.ContentLength, ErrRangeIgnored))
		}
		d.ContentLength = end - start + 1
		d.TotalSize = total
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return fail(fmt.Errorf("%s: unexpected HTTP %d", name, resp.StatusCode))
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := presignedError(name, rawURL, resp, body)
		_, v := fail(e)
		v.retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		v.rateLimited = resp.StatusCode == http.StatusTooManyRequests
		v.wait = e.RetryAfter
		return nil, v
	}
	// From here on only a Read waiting for data is timed: a slow consumer
	// is not a stalled server.
	wd.stop()
	d.Body = &downloadBody{body: resp.Body, parent: ctx, attempt: dctx, wd: wd, cancel: cancel, name: name}
	return d, verdict{}
}

// downloadBody is a download's body: each Read must get data within the
// watchdog's duration, and errors name the URL (redacted).
type downloadBody struct {
	body    io.ReadCloser
	parent  context.Context
	attempt context.Context
	wd      *watchdog
	cancel  context.CancelCauseFunc
	name    string
	once    sync.Once
}

func (b *downloadBody) Read(p []byte) (int, error) {
	b.wd.kick()
	n, err := b.body.Read(p)
	b.wd.stop()
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: read body: %w", b.name, transportError(b.parent, b.attempt, err))
	}
	return n, err
}

func (b *downloadBody) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		b.wd.stop()
		b.cancel(nil)
	})
	return err
}

// parseContentRange parses "bytes start-end/total" (total may be "*",
// returned as -1).
func parseContentRange(v string) (start, end, total int64, err error) {
	bad := fmt.Errorf("invalid Content-Range %q", excerpt(v, 60))
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, size, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	s, e, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if start, err = strconv.ParseInt(s, 10, 64); err != nil || start < 0 {
		return 0, 0, 0, bad
	}
	if end, err = strconv.ParseInt(e, 10, 64); err != nil || end < start {
		return 0, 0, 0, bad
	}
	if size == "*" {
		return start, end, -1, nil
	}
	if total, err = strconv.ParseInt(size, 10, 64); err != nil || total <= end {
		return 0, 0, 0, bad
	}
	return start, end, total, nil
}

// presignedError builds the *Error for an error answer from a presigned
// URL. Only S3's Code and Message are kept (its error XML may echo the
// signature elsewhere), with any value of the URL's query removed.
func presignedError(name, rawURL string, resp *http.Response, body []byte) *Error {
	var s3 struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	msg := ""
	if xml.Unmarshal(body, &s3) == nil && (s3.Code != "" || s3.Message != "") {
		msg = strings.TrimPrefix(s3.Code+": "+s3.Message, ": ")
		msg = strings.TrimSuffix(msg, ": ")
	} else if !strings.Contains(resp.Header.Get("Content-Type"), "html") {
		msg = plainExcerpt(body)
	}
	msg = excerpt(scrubURLs(msg), 200)
	if u, err := url.Parse(rawURL); err == nil {
		for _, vals := range u.Query() {
			for _, v := range vals {
				if len(v) >= 8 {
					msg = strings.ReplaceAll(msg, v, "[redacted]")
				}
			}
		}
	}
	e := &Error{Op: name, StatusCode: resp.StatusCode, Message: msg}
	switch {
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusBadRequest && (s3.Code == "ExpiredToken" || s3.Code == "TokenRefreshRequired"):
		e.kind = ErrURLExpired
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		e.kind = ErrRangeIgnored // the object is not what the offset assumed
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// source is a caller's body for a streamed request. It can be replayed
// while none of it has been read, or when it can seek back.
type source struct {
	r      io.Reader
	size   int64
	seeker io.Seeker
	start  int64
	// read counts the bytes taken by the current attempt. Only the copying
	// goroutine touches it while an attempt runs; stream.finish orders it
	// before rewind.
	read int64
}

func newSource(r io.Reader, size int64) *source {
	s := &source{r: r, size: size}
	if sk, ok := r.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			s.seeker, s.start = sk, pos
		}
	}
	return s
}

// rewind prepares the source for another attempt; false if it cannot be
// replayed.
func (s *source) rewind() bool {
	if s.read == 0 {
		return true
	}
	if s.seeker == nil {
		return false
	}
	if _, err := s.seeker.Seek(s.start, io.SeekStart); err != nil {
		return false
	}
	s.read = 0
	return true
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.read += int64(n)
	return n, err
}

// copyTo writes exactly size bytes of the source to w.
func (s *source) copyTo(w io.Writer) error {
	n, err := io.CopyN(w, s, s.size)
	if err == io.EOF {
		return fmt.Errorf("the dump ended after %d of %d bytes", n, s.size)
	}
	return err
}

// errAttemptOver closes a stream's pipe once its attempt has ended.
var errAttemptOver = errors.New("request over")

// stream is a request body fed through an io.Pipe by a goroutine, so that
// nothing is buffered and the goroutine is always waited for.
type stream struct {
	pr   *io.PipeReader
	kick func()
	done chan struct{}
	err  error
}

func startStream(write func(io.Writer) error, kick func()) *stream {
	pr, pw := io.Pipe()
	s := &stream{pr: pr, kick: kick, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = write(pw)
		pw.CloseWithError(s.err)
	}()
	return s
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.pr.Read(p)
	if n > 0 {
		s.kick()
	}
	return n, err
}

func (s *stream) Close() error { return s.pr.Close() }

// finish ends the stream, waits for its goroutine and returns the error of
// the caller's body, if reading it failed (not the request's own errors).
func (s *stream) finish() error {
	s.pr.CloseWithError(errAttemptOver)
	<-s.done
	if s.err == nil || errors.Is(s.err, errAttemptOver) || errors.Is(s.err, io.ErrClosedPipe) {
		return nil
	}
	return s.err
}

// Upload PUTs size bytes of body to a presigned upload URL: Content-Type
// application/sql, Content-Length size, no Authorization header, streamed
// without buffering, not counted against the API budget. 5xx, 429 and
// network errors are retried when body can be replayed (nothing read yet,
// or an io.Seeker). A body shorter than size fails without retry. A 403
// gives an error matching ErrURLExpired; errors name the URL as RedactURL
// does.
func (c *Client) Upload(ctx context.Context, uploadURL string, body io.Reader, size int64) error {
	name := "upload to " + RedactURL(uploadURL)
	if err := checkPresigned(uploadURL); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if size < 0 {
		return fmt.Errorf("%s: negative size %d", name, size)
	}
	src := newSource(body, size)
	return c.retry(ctx, opImportUpload, false, src.rewind, func(ctx context.Context) verdict {
		return c.uploadAttempt(ctx, uploadURL, src, name, nil)
	})
}

// uploadAttempt PUTs src to uploadURL once. With etag set, a successful
// answer must carry an ETag (a multipart part's), stored there.
func (c *Client) uploadAttempt(ctx context.Context, uploadURL string, src *source, name string, etag *string) verdict {
	uctx, wd, cancel := withWatchdog(ctx, c.timeout, "no progress")
	defer cancel(nil)
	defer wd.stop()
	var body io.Reader = http.NoBody
	var st *stream
	if src.size > 0 {
		st = startStream(src.copyTo, wd.kick)
		body = st
	}
	req, err := http.NewRequestWithContext(uctx, http.MethodPut, uploadURL, body)
	if err != nil {
		if st != nil {
			_ = st.finish()
		}
		return verdict{err: fmt.Errorf("%s: %w", name, scrub(err))}
	}
	req.ContentLength = src.size
	req.Header.Set("Content-Type", "application/sql")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	var answer []byte
	if err == nil {
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	if err != nil {
		c.observe(opImportUpload, "error")
	} else {
		c.observe(opImportUpload, strconv.Itoa(resp.StatusCode))
	}
	if st != nil {
		if berr := st.finish(); berr != nil {
			return verdict{err: fmt.Errorf("%s: read the dump: %w", name, berr)}
		}
	}
	if err != nil {
		return verdict{err: fmt.Errorf("%s: %w", name, transportError(ctx, uctx, err)), retry: ctx.Err() == nil}
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if etag != nil {
			*etag = strings.TrimSpace(resp.Header.Get("ETag"))
			if *etag == "" {
				return verdict{err: fmt.Errorf("%s: HTTP %d without an ETag: the part cannot be reported to the API", name, resp.StatusCode)}
			}
		}
		return verdict{}
	}
	e := presignedError(name, uploadURL, resp, answer)
	return verdict{
		err:         e,
		retry:       resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
		rateLimited: resp.StatusCode == http.StatusTooManyRequests,
		wait:        e.RetryAfter,
	}
}
