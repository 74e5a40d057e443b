package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// DefaultClientTimeout bounds each request of a Client made with a nil
// http.Client.
const DefaultClientTimeout = 30 * time.Second

// DefaultPoll is how often WaitJob asks for a job's status when given no
// interval.
const DefaultPoll = time.Second

// maxErrorBytes bounds an error answer read into memory.
const maxErrorBytes = 64 << 10

// Client talks to a running daemon's control API. It is safe for concurrent
// use. Its errors never contain the token.
type Client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	hc    *http.Client
}

// NewClient returns a client for the daemon at baseURL (for example
// "http://127.0.0.1:9469"; "http://" is assumed when no scheme is given)
// that sends token as its bearer token unless it is empty. A nil hc means
// an http.Client with DefaultClientTimeout.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultClientTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// LocalURL returns the base URL at which a client on this machine reaches a
// daemon listening on listen (host:port): an empty or unspecified host
// (0.0.0.0, ::) becomes the matching loopback address.
func LocalURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("server listen address %q: want host:port: %w", listen, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// Backups returns the daemon's catalog records of site and env (empty
// matches any), newest first. Errors: one matching ErrInvalid for a
// malformed name, ErrUnauthorized, or a transport error.
func (c *Client) Backups(ctx context.Context, site, env string) ([]catalog.Record, error) {
	q := url.Values{}
	if site != "" {
		q.Set("site", site)
	}
	if env != "" {
		q.Set("env", env)
	}
	path := "/api/v1/backups"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var recs []catalog.Record
	if err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &recs); err != nil {
		return nil, fmt.Errorf("list backups at %s: %w", c.base, err)
	}
	if recs == nil {
		recs = []catalog.Record{}
	}
	return recs, nil
}

// StartBackup asks the daemon for one backup of site and env (empty: the
// site's only environment, else its development one) with the given
// trigger (empty: manual) and reason, and returns the job's id. Errors: one
// matching ErrNotFound for an unknown site or environment, ErrInvalid for a
// refused request (the message says why), ErrUnavailable when the daemon
// takes no jobs now, ErrUnauthorized, or a transport error.
func (c *Client) StartBackup(ctx context.Context, site, env, trigger, reason string) (string, error) {
	body, err := json.Marshal(backupRequest{Site: site, Environment: env, Reason: reason, Trigger: trigger})
	if err != nil {
		return "", fmt.Errorf("start backup of %s: %w", site, err)
	}
	var out struct {
		JobID string `json:"job_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/backups", body, http.StatusAccepted, &out); err != nil {
		return "", fmt.Errorf("start backup of %s: %w", site, err)
	}
	if out.JobID == "" {
		return "", fmt.Errorf("start backup of %s: %s answered without a job id", site, c.base)
	}
	return out.JobID, nil
}

// Job returns the status of the job with the given id. Errors: one
// matching ErrNotFound for an unknown job, ErrUnauthorized, or a transport
// error.
func (c *Client) Job(ctx context.Context, id string) (JobStatus, error) {
	var st JobStatus
	if err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), nil, http.StatusOK, &st); err != nil {
		return JobStatus{}, fmt.Errorf("job %s: %w", id, err)
	}
	return st, nil
}

// WaitJob asks for the job's status every poll (DefaultPoll when poll is
// not positive) until it has succeeded or failed, and returns that status;
// a failed job is not an error of WaitJob (check State and Error). Errors:
// those of Job, or ctx's error with the last status seen.
func (c *Client) WaitJob(ctx context.Context, id string, poll time.Duration) (JobStatus, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last JobStatus
	for {
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
		case <-t.C:
		}
		st, err := c.Job(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return last, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
			}
			return last, err
		}
		if st.Done() {
			return st, nil
		}
		last = st
		t.Reset(poll)
	}
}

// Ping reports whether a daemon is serving at the client's address: nil
// when /healthz answers 200. Errors: a transport error (for example
// connection refused: no daemon) or an error naming the status.
func (c *Client) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("ping vectord at %s: %w", c.base, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("ping vectord at %s: %w", c.base, transportError(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping vectord at %s: /healthz answered %s", c.base, resp.Status)
	}
	return nil
}

// do sends one control API request and decodes a want answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vectord")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return readStatusError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// transportError drops the request URL from a *url.Error: the caller names
// the daemon's address itself.
func transportError(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusError is an error answer of the control API.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.msg, e.code)
}

// Is matches the sentinel that the status stands for.
func (e *statusError) Is(target error) bool {
	switch e.code {
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return target == ErrInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return target == ErrUnauthorized
	case http.StatusServiceUnavailable:
		return target == ErrUnavailable
	}
	return false
}

func readStatusError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var e struct {
		Error string `json:"error"`
	}
	msg := http.StatusText(resp.StatusCode)
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if msg == "" {
		msg = "unexpected answer"
	}
	return &statusError{code: resp.StatusCode, msg: msg}
}
