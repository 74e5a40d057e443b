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
	"strconv"
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
	long  *http.Client // for Forget, Prune and Check
}

// NewClient returns a client for the daemon at baseURL (for example
// "http://127.0.0.1:9469"; "http://" is assumed when no scheme is given)
// that sends token as its bearer token unless it is empty. A nil hc means
// an http.Client with DefaultClientTimeout for every request except those
// of Forget, Prune and Check, which may run for long (deleting files,
// re-reading every backup) and are bounded by their context only; a
// non-nil hc serves every request.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	long := hc
	if hc == nil {
		hc = &http.Client{Timeout: DefaultClientTimeout}
		long = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc, long: long}
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
// matches any), newest first, following every page of GET /api/v1/backups
// (so it holds the whole list: use BackupsPage to read a large catalog
// page by page). Errors: one matching ErrInvalid for a malformed name,
// ErrUnauthorized, or a transport error.
func (c *Client) Backups(ctx context.Context, site, env string) ([]catalog.Record, error) {
	all := []catalog.Record{}
	after := ""
	for {
		recs, next, err := c.BackupsPage(ctx, site, env, after, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if next == "" {
			return all, nil
		}
		if next == after {
			return nil, fmt.Errorf("list backups at %s: the next page after %s is the same page", c.base, after)
		}
		after = next
	}
}

// BackupsPage returns one page of the daemon's catalog records of site and
// env (empty matches any), newest first: up to limit records (0 or less:
// the daemon's default, catalog.DefaultPageSize; at most MaxPageSize)
// after the backup with id after ("": from the newest), and the id to pass
// as after for the next page ("" when this is the last). Errors: one
// matching ErrInvalid for a malformed name, id or limit, ErrUnauthorized,
// or a transport error.
func (c *Client) BackupsPage(ctx context.Context, site, env, after string, limit int) ([]catalog.Record, string, error) {
	q := url.Values{}
	if site != "" {
		q.Set("site", site)
	}
	if env != "" {
		q.Set("env", env)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/backups"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var recs []catalog.Record
	h, err := c.send(ctx, c.hc, http.MethodGet, path, nil, http.StatusOK, &recs)
	if err != nil {
		return nil, "", fmt.Errorf("list backups at %s: %w", c.base, err)
	}
	next, err := nextAfter(h.Values("Link"))
	if err != nil {
		return nil, "", fmt.Errorf("list backups at %s: %w", c.base, err)
	}
	if recs == nil {
		recs = []catalog.Record{}
	}
	return recs, next, nil
}

// nextAfter returns the after parameter of the rel="next" link among the
// Link header values, or "" when there is none.
func nextAfter(links []string) (string, error) {
	for _, v := range links {
		for link := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") || !relNext(params) {
				continue
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				return "", fmt.Errorf("link to the next page: %w", err)
			}
			after := u.Query().Get("after")
			if after == "" {
				return "", fmt.Errorf("link to the next page %q has no after parameter", u.Path)
			}
			return after, nil
		}
	}
	return "", nil
}

// relNext reports whether Link parameters hold rel="next" (or rel=next,
// or next among several relation types).
func relNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(v), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}

// Backup returns the daemon's catalog record of the backup whose id is, or
// starts with, idOrPrefix. Errors: one matching ErrNotFound (and
// catalog.ErrNotFound) when none does, one matching ErrAmbiguous (and
// catalog.ErrAmbiguous) naming the candidates when several do, ErrInvalid
// for a malformed id, ErrUnauthorized, or a transport error.
func (c *Client) Backup(ctx context.Context, idOrPrefix string) (catalog.Record, error) {
	path, err := backupPath(idOrPrefix)
	if err != nil {
		return catalog.Record{}, err
	}
	var r catalog.Record
	if _, err := c.send(ctx, c.hc, http.MethodGet, path, nil, http.StatusOK, &r); err != nil {
		return catalog.Record{}, fmt.Errorf("backup %s at %s: %w", idOrPrefix, c.base, err)
	}
	return r, nil
}

// Forget asks the daemon to delete the backup whose id is, or starts with,
// idOrPrefix now, as `vectord forget` does (mark, files on every target,
// record), and returns its full id. Errors: as Backup's, plus one matching
// ErrInvalid for a pinned backup, ErrUnavailable, and ErrNotSupported from
// a daemon that offers no catalog administration.
func (c *Client) Forget(ctx context.Context, idOrPrefix string) (string, error) {
	path, err := backupPath(idOrPrefix)
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	if _, err := c.send(ctx, c.long, http.MethodDelete, path, nil, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("forget backup %s at %s: %w", idOrPrefix, c.base, err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("forget backup %s: %s answered without the backup's id", idOrPrefix, c.base)
	}
	return out.ID, nil
}

// Pin asks the daemon to pin (pinned true) or unpin the backup whose id
// is, or starts with, idOrPrefix. Errors: as Forget's.
func (c *Client) Pin(ctx context.Context, idOrPrefix string, pinned bool) error {
	path, err := backupPath(idOrPrefix)
	if err != nil {
		return err
	}
	method, what := http.MethodPut, "pin"
	if !pinned {
		method, what = http.MethodDelete, "unpin"
	}
	if _, err := c.send(ctx, c.hc, method, path+"/pin", nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("%s backup %s at %s: %w", what, idOrPrefix, c.base, err)
	}
	return nil
}

// Prune asks the daemon to apply retention now (with dryRun, only to say
// what it would do) and returns its report, JSON as the daemon's Admin
// wrote it. Errors: one matching ErrUnavailable, ErrNotSupported,
// ErrUnauthorized, another error with the daemon's message, or a
// transport error.
func (c *Client) Prune(ctx context.Context, dryRun bool) (json.RawMessage, error) {
	body, err := json.Marshal(pruneRequest{DryRun: dryRun})
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	var report json.RawMessage
	if _, err := c.send(ctx, c.long, http.MethodPost, "/api/v1/prune", body, http.StatusOK, &report); err != nil {
		return nil, fmt.Errorf("prune at %s: %w", c.base, err)
	}
	return report, nil
}

// Check asks the daemon to check its catalog against storage (with
// repair, fixing what it can; with readData, re-reading every stored file)
// and returns the report, JSON as the daemon's Admin wrote it, and whether
// everything was in order; problems found are not an error of Check.
// Errors: as Prune's.
func (c *Client) Check(ctx context.Context, repair, readData bool) (json.RawMessage, bool, error) {
	body, err := json.Marshal(checkRequest{Repair: repair, ReadData: readData})
	if err != nil {
		return nil, false, fmt.Errorf("check: %w", err)
	}
	var out checkAnswer
	if _, err := c.send(ctx, c.long, http.MethodPost, "/api/v1/check", body, http.StatusOK, &out); err != nil {
		return nil, false, fmt.Errorf("check at %s: %w", c.base, err)
	}
	return out.Report, out.OK, nil
}

// backupPath is the path of the backup idOrPrefix names. Errors: one
// matching ErrInvalid for an empty id.
func backupPath(idOrPrefix string) (string, error) {
	if strings.TrimSpace(idOrPrefix) == "" {
		return "", fmt.Errorf("backup id: %w: empty", ErrInvalid)
	}
	return "/api/v1/backups/" + url.PathEscape(idOrPrefix), nil
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

// Status returns the daemon's status report (GET /api/v1/status), JSON as
// the daemon wrote it. Errors: ErrNotSupported, ErrUnauthorized, or a
// transport error.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, http.StatusOK, &raw); err != nil {
		return nil, fmt.Errorf("status at %s: %w", c.base, err)
	}
	return raw, nil
}

// CancelJob asks the daemon to end a job that has not finished. Errors: one
// matching ErrNotFound for an unknown or finished job, ErrUnauthorized, or
// a transport error.
func (c *Client) CancelJob(ctx context.Context, id string) error {
	if _, err := c.send(ctx, c.hc, http.MethodDelete, "/api/v1/jobs/"+url.PathEscape(id), nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("cancel job %s: %w", id, err)
	}
	return nil
}

// Admit blocks until the daemon's database-operation budget admits one
// operation op (such as "import") for ref; the daemon writes it to its
// ledger. Errors: ErrUnavailable, ErrUnauthorized, ctx's or a transport
// error.
func (c *Client) Admit(ctx context.Context, op, ref string) error {
	body, err := json.Marshal(admitRequest{Op: op, Ref: ref})
	if err != nil {
		return err
	}
	if _, err := c.send(ctx, c.long, http.MethodPost, "/api/v1/budget", body, http.StatusOK, nil); err != nil {
		return fmt.Errorf("wait for the daemon's API budget: %w", err)
	}
	return nil
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

// do sends one control API request with the client's http.Client and
// decodes a want answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	_, err := c.send(ctx, c.hc, method, path, body, want, out)
	return err
}

// send sends one control API request with hc, decodes a want answer into
// out (a nil out discards it), and returns the answer's header.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body []byte, want int, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vectord")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return nil, readStatusError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	return resp.Header, nil
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

// Is matches the sentinel that the status stands for; 404 and 409 match
// the catalog's sentinels too, so that callers test a daemon's answer as
// they test the catalog's own errors.
func (e *statusError) Is(target error) bool {
	switch e.code {
	case http.StatusNotFound:
		return target == ErrNotFound || target == catalog.ErrNotFound
	case http.StatusConflict:
		return target == ErrAmbiguous || target == catalog.ErrAmbiguous
	case http.StatusNotImplemented:
		return target == ErrNotSupported
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
