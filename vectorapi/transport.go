package vectorapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// verdict is the outcome of one attempt.
type verdict struct {
	err   error         // nil: success
	retry bool          // the attempt may be repeated
	wait  time.Duration // how long the server asked to wait; 0: back off
	// rateLimited marks a 429: the wait has a floor and a ceiling.
	rateLimited bool
}

// retry runs attempt until it succeeds, fails for good or runs out of
// retries. API requests (limited) first wait for the shared limiter.
// Between attempts it waits what the server asked or the backoff, never
// past ctx's deadline, and calls rewind (if set) to replay a streamed body;
// a body that cannot be replayed ends the retries.
func (c *Client) retry(ctx context.Context, op operation, limited bool, rewind func() bool, attempt func(context.Context) verdict) error {
	var last error
	for n := 0; ; n++ {
		if limited {
			if err := c.limiter.Wait(ctx); err != nil {
				if last != nil {
					return fmt.Errorf("%w (gave up waiting to retry: %w)", last, err)
				}
				return fmt.Errorf("%s: wait for the request budget: %w", op.describe(), err)
			}
		}
		v := attempt(ctx)
		last = v.err
		if v.err == nil {
			return nil
		}
		if !v.retry || n >= c.maxRetries {
			return v.err
		}
		wait := v.wait
		if wait == 0 {
			wait = c.backoff(n)
		}
		if v.rateLimited {
			// A 429 saying "Retry-After: 0" must not drive a tight loop.
			wait = max(wait, c.baseDelay)
		}
		if v.wait > c.maxRateLimitWait {
			return v.err // the caller reschedules rather than holding a slot
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return v.err
		}
		if rewind != nil && !rewind() {
			return v.err
		}
		if op.dbOperation() && c.beforeRetry != nil {
			if err := c.beforeRetry(ctx, string(op)); err != nil {
				return fmt.Errorf("%w (not sent again: %w)", v.err, err)
			}
		}
		c.log.Warn("retrying vector api request",
			"op", string(op), "attempt", n+1, "error", v.err.Error(), "duration", wait)
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%w (gave up waiting to retry: %w)", v.err, err)
		}
	}
}

// backoff is the wait before retry n: full jitter over a capped
// exponential, uniformly random in [0, min(maxDelay, baseDelay·2ⁿ)].
func (c *Client) backoff(n int) time.Duration {
	ceiling := c.maxDelay
	if n < 62 {
		if d := c.baseDelay << n; d > 0 && d < ceiling && d>>n == c.baseDelay {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// watchdog cancels an attempt's context when no progress is reported for
// its duration: the time to an answer, or between chunks of a body.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

func withWatchdog(ctx context.Context, d time.Duration, what string) (context.Context, *watchdog, context.CancelCauseFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() { cancel(&timeoutError{what: what, d: d}) })
	return wctx, w, cancel
}

// kick reports progress.
func (w *watchdog) kick() { w.t.Reset(w.d) }

func (w *watchdog) stop() { w.t.Stop() }

// sendTrace records how far a request got, to tell a request the server
// never saw from one whose answer was lost.
type sendTrace struct {
	getConn atomic.Bool // the transport reports progress through httptrace
	wrote   atomic.Bool // the whole request was written
}

func (t *sendTrace) with(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { t.getConn.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				t.wrote.Store(true)
			}
		},
	})
}

// unsent reports whether err proves the server never received the whole
// request: the connection could not be made, or the transport tracked the
// request and never finished writing it. Without that proof a request
// counts as sent.
func (t *sendTrace) unsent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return t.getConn.Load() && !t.wrote.Load()
}

// transportError turns a client error into one that names no secret: the
// *url.Error layer (which quotes the URL) is dropped, the watchdog's cause
// replaces a bare "context canceled", and any URL left in the text loses
// its query.
func transportError(ctx, attemptCtx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() == nil {
		var te *timeoutError
		if cause := context.Cause(attemptCtx); errors.As(cause, &te) {
			err = te
		}
	}
	return scrub(err)
}

// apiRequest is one call of the API.
type apiRequest struct {
	op        operation
	method    string
	path      string
	json      []byte         // request body, or nil
	multipart *multipartBody // streamed request body, or nil
	// safe marks an idempotent request: any 5xx or network error may be
	// retried. Other requests are retried only when the failure proves the
	// API did not act on them.
	safe bool
	// For requests that are not safe, what may have happened and what a
	// re-send would risk, for the ErrExportUncertain error.
	what, avoid string
	// seen, if set, is called with every answer's status, headers and
	// (possibly cut short) body, before it is judged: Probe reads what the
	// error answers say about the routes.
	seen func(status int, h http.Header, body []byte)
}

// uncertain wraps cause in an error matching ErrExportUncertain.
func (r *apiRequest) uncertain(cause error) error {
	return &uncertainError{what: r.what, avoid: r.avoid, cause: cause}
}

// callAPI sends r with retries and returns the body of a 2xx answer.
func (c *Client) callAPI(ctx context.Context, r apiRequest) ([]byte, error) {
	var body []byte
	var rewind func() bool
	if r.multipart != nil {
		rewind = r.multipart.src.rewind
	}
	err := c.retry(ctx, r.op, true, rewind, func(ctx context.Context) verdict {
		var v verdict
		body, v = c.apiAttempt(ctx, &r)
		return v
	})
	return body, err
}

// apiAttempt sends r once and judges the outcome.
func (c *Client) apiAttempt(ctx context.Context, r *apiRequest) ([]byte, verdict) {
	name := r.op.describe()
	actx, wd, cancel := withWatchdog(ctx, c.timeout, "no answer")
	defer cancel(nil)
	defer wd.stop()
	var tr sendTrace
	actx = tr.with(actx)

	var body io.Reader
	var st *stream
	switch {
	case r.multipart != nil:
		st = startStream(r.multipart.write, wd.kick)
		body = st
	case r.json != nil:
		body = bytes.NewReader(r.json)
	}
	req, err := http.NewRequestWithContext(actx, r.method, c.base+r.path, body)
	if err != nil {
		if st != nil {
			_ = st.finish()
		}
		return nil, verdict{err: fmt.Errorf("%s: %w", name, scrub(err))}
	}
	switch {
	case st != nil:
		req.ContentLength = r.multipart.length
		req.Header.Set("Content-Type", r.multipart.contentType)
	case r.json != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.hc.Do(req)
	var answer []byte
	if err == nil {
		answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
		resp.Body.Close()
		if err == nil && len(answer) > maxAnswerBytes {
			err = fmt.Errorf("the answer is larger than %d bytes", maxAnswerBytes)
		}
	}
	if resp == nil {
		c.observe(r.op, "error")
	} else {
		// What the API says of its budget first: an observer that lets
		// waiting callers go must already know it.
		if r.op.dbOperation() {
			c.reportRateLimit(resp.Header, time.Now())
		}
		c.observe(r.op, strconv.Itoa(resp.StatusCode))
		if r.seen != nil {
			r.seen(resp.StatusCode, resp.Header, answer)
		}
	}
	if st != nil {
		if berr := st.finish(); berr != nil {
			// The request was cut short: the API cannot have acted on it.
			return nil, verdict{err: fmt.Errorf("%s: read the dump: %w", name, berr)}
		}
	}

	if resp == nil {
		err = fmt.Errorf("%s: %w", name, transportError(ctx, actx, err))
		switch {
		case !r.safe && !tr.unsent(err):
			return nil, verdict{err: r.uncertain(err)}
		case ctx.Err() != nil:
			return nil, verdict{err: err}
		}
		return nil, verdict{err: err, retry: true}
	}

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if err != nil { // the API acted; its answer was lost on the way
			err = fmt.Errorf("%s: read the answer (HTTP %d): %w", name, resp.StatusCode, transportError(ctx, actx, err))
			switch {
			case !r.safe:
				return nil, verdict{err: r.uncertain(err)}
			case ctx.Err() != nil:
				return nil, verdict{err: err}
			}
			return nil, verdict{err: err, retry: true}
		}
		return answer, verdict{}
	}

	apiErr := c.apiError(name, resp, answer)
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests && r.op.dbOperation():
		// The account's database-operation budget is spent: every
		// database operation waits (the caller pauses them all), so this
		// one is not repeated on its own.
		return nil, verdict{err: apiErr}
	case code == http.StatusTooManyRequests:
		// The API did not execute the request: safe to repeat.
		return nil, verdict{err: apiErr, retry: true, wait: apiErr.RetryAfter, rateLimited: true}
	case code >= 500 && (r.safe || code == http.StatusInternalServerError || code == http.StatusServiceUnavailable):
		return nil, verdict{err: apiErr, retry: true, wait: apiErr.RetryAfter}
	case code >= 500:
		// 502, 504 and the like come from a proxy that may have passed
		// the request on: the API may have acted.
		return nil, verdict{err: r.uncertain(apiErr)}
	}
	return nil, verdict{err: apiErr}
}

// apiError builds the *Error for an API error answer. The token never
// appears in it, even if a proxy echoes it.
func (c *Client) apiError(name string, resp *http.Response, body []byte) *Error {
	msg, fieldErrs := decodeAPIError(body)
	e := &Error{Op: name, StatusCode: resp.StatusCode, Message: c.redactToken(msg)}
	for k, list := range fieldErrs {
		for i := range list {
			list[i] = c.redactToken(list[i])
		}
		if e.Fields == nil {
			e.Fields = make(map[string][]string, len(fieldErrs))
		}
		e.Fields[c.redactToken(k)] = list
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

func (c *Client) redactToken(s string) string {
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

// reportRateLimit passes X-RateLimit-Remaining (and X-RateLimit-Reset) of
// a database operation's answer to Options.RateLimit.
func (c *Client) reportRateLimit(h http.Header, now time.Time) {
	if c.rateLimitFn == nil {
		return
	}
	v := strings.TrimSpace(h.Get("X-RateLimit-Remaining"))
	n, err := strconv.Atoi(v)
	if v == "" || err != nil || n < 0 {
		return
	}
	var reset time.Time
	if d := retryAfter(http.Header{"X-Ratelimit-Reset": h.Values("X-RateLimit-Reset")}, now); d > 0 {
		reset = now.Add(d)
	}
	c.rateLimitFn(n, reset)
}

// maxServerWait bounds the waits read from headers.
const maxServerWait = 24 * time.Hour

// retryAfter reads how long the server asked to wait: Retry-After in
// seconds or as an HTTP date, else X-RateLimit-Reset as epoch seconds (or,
// for values under 10⁸, seconds from now). 0 if it did not say.
func retryAfter(h http.Header, now time.Time) time.Duration {
	clamp := func(d time.Duration) time.Duration { return min(max(d, 0), maxServerWait) }
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			return clamp(time.Duration(min(secs, int64(maxServerWait/time.Second))) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return clamp(t.Sub(now))
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			if n < 100_000_000 { // about three years: a delta, not a date
				return clamp(time.Duration(min(n, int64(maxServerWait/time.Second))) * time.Second)
			}
			return clamp(time.Unix(n, 0).Sub(now))
		}
	}
	return 0
}
