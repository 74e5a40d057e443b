package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/builtfast/vectord/vectorapi"
)

// errRestart: the download cannot continue where it stopped (the server
// ignored a Range request, or the file changed size) and must start over.
var errRestart = errors.New("download cannot resume at its offset")

const (
	maxResumes     = 8 // reopenings of one download after cuts or failed opens
	maxURLRenewals = 3 // fresh status queries for one download
)

// resumer is the export file as one continuous stream. When the connection
// is cut it reopens the URL with a Range request at the byte it stopped on,
// on condition that the file is still the version it started reading (its
// validator, If-Range); when the URL has expired it asks the API for a
// fresh one first. A file that changed (or cannot be resumed) makes the
// transfer start over from byte zero (errRestart).
type resumer struct {
	ctx        context.Context
	api        API
	url        string
	expiresAt  time.Time
	refresh    func(context.Context) (vectorapi.Export, error)
	onProgress func(n, total int64)
	now        func() time.Time
	log        *slog.Logger

	body   io.ReadCloser
	offset int64 // bytes of the file delivered so far
	total  int64 // the file's size, -1 while unknown
	// validator identifies the version of the file read from byte zero
	// (its ETag or Last-Modified, from the first answer); "" if unknown.
	validator string
	resumes   int
	renewals  int
	lastTick  time.Time
}

func (r *resumer) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if err := r.open(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.offset += int64(n)
		r.tick()
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (r.total < 0 || r.offset == r.total):
			return n, io.EOF
		case errors.Is(err, io.EOF) && r.offset > r.total:
			return n, fail(ReasonDownload, "download %s: received %d bytes, the server announced %d", vectorapi.RedactURL(r.url), r.offset, r.total)
		}
		// The stream broke before its end: resume at r.offset.
		r.body.Close()
		r.body = nil
		if r.ctx.Err() != nil {
			return n, context.Cause(r.ctx)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if r.resumes++; r.resumes > maxResumes {
			return n, fail(ReasonDownload, "download %s: %v (gave up after %d resumes at byte %d)", vectorapi.RedactURL(r.url), err, maxResumes, r.offset)
		}
		r.log.Warn("download interrupted; resuming", "bytes", r.offset, "error", err)
		if n > 0 {
			return n, nil
		}
	}
}

// open starts (or resumes) the transfer at r.offset.
func (r *resumer) open() error {
	failures := 0
	for {
		if !r.expiresAt.IsZero() && !r.now().Before(r.expiresAt) {
			if err := r.renew(); err != nil {
				return err
			}
		}
		d, err := r.download()
		switch {
		case err == nil:
			if r.offset > 0 && r.total >= 0 && d.TotalSize >= 0 && d.TotalSize != r.total {
				d.Body.Close()
				return fmt.Errorf("%w: size changed from %d to %d", errRestart, r.total, d.TotalSize)
			}
			if r.offset > 0 && r.validator != "" && d.Validator != "" && d.Validator != r.validator {
				d.Body.Close()
				return fmt.Errorf("%w: the file changed (validator %s, now %s)", errRestart, r.validator, d.Validator)
			}
			if r.offset == 0 {
				r.total, r.validator = d.TotalSize, d.Validator
			}
			r.body = d.Body
			return nil
		case errors.Is(err, vectorapi.ErrURLExpired):
			if err := r.renew(); err != nil {
				return err
			}
		case errors.Is(err, vectorapi.ErrRangeIgnored):
			return fmt.Errorf("%w: %v", errRestart, err)
		case r.ctx.Err() != nil:
			return context.Cause(r.ctx)
		default:
			if r.resumes++; r.resumes > maxResumes {
				return fail(ReasonDownload, "download export file: %v (gave up after %d attempts)", err, maxResumes)
			}
			failures++
			r.log.Warn("download failed to start; retrying", "bytes", r.offset, "error", err)
			if err := sleep(r.ctx, backoff(failures)); err != nil {
				return err
			}
		}
	}
}

// download opens the file at r.offset: from byte zero plainly, later on
// condition that the file is still the version first read.
func (r *resumer) download() (*vectorapi.Download, error) {
	if r.offset > 0 && r.validator != "" {
		return r.api.DownloadFrom(r.ctx, r.url, r.offset, r.validator)
	}
	return r.api.Download(r.ctx, r.url, r.offset)
}

// renew replaces an expired URL through a fresh status query of the same
// export, whose file (and so every byte offset) is unchanged.
func (r *resumer) renew() error {
	if r.renewals++; r.renewals > maxURLRenewals {
		return fail(ReasonURLExpired, "download %s: URL expired %d times", vectorapi.RedactURL(r.url), maxURLRenewals)
	}
	r.log.Info("download URL expired; asking for a fresh one", "bytes", r.offset)
	exp, err := r.refresh(r.ctx)
	if err != nil {
		return err
	}
	r.url, r.expiresAt = exp.DownloadURL, exp.ExpiresAt
	return nil
}

// reset makes the next Read start the file again from byte zero.
func (r *resumer) reset() {
	r.close()
	r.offset, r.total, r.validator = 0, -1, ""
}

func (r *resumer) close() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

func (r *resumer) tick() {
	if r.onProgress == nil {
		return
	}
	if now := time.Now(); now.Sub(r.lastTick) >= 200*time.Millisecond || r.offset == r.total {
		r.lastTick = now
		r.onProgress(r.offset, r.total)
	}
}

// backoff is the wait before the n-th consecutive retry: 500ms doubling,
// capped at 15s.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 5)
	return min(d, 15*time.Second)
}
