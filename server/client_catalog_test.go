package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
)

// countingDaemon serves the real handler and counts /api/v1/backups list
// requests.
func countingDaemon(t *testing.T, o Options) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var lists atomic.Int64
	h := mustNew(t, o).Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/backups" {
			lists.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &lists
}

func TestClientBackupsFollowsEveryPage(t *testing.T) {
	db := openCatalog(t)
	const n = 2*catalog.DefaultPageSize + 500
	all := fillCatalog(t, db, n)
	o := testOptions(t)
	o.Backups = db
	ts, lists := countingDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())

	got, err := c.Backups(context.Background(), "", "")
	if err != nil {
		t.Fatalf("Backups: %v", err)
	}
	if diff := cmp.Diff(all, ids(got)); diff != "" {
		t.Errorf("Backups ids (-want +got):\n%s", diff)
	}
	if lists.Load() != 3 {
		t.Errorf("Backups made %d list requests, want 3 pages", lists.Load())
	}

	lists.Store(0)
	got, err = c.Backups(context.Background(), "acme", "staging")
	if err != nil {
		t.Fatalf("Backups(acme, staging): %v", err)
	}
	if len(got) != n/2 || got[0].ID != all[1] || got[len(got)-1].ID != all[n-1] {
		t.Errorf("Backups(acme, staging) = %d records from %s to %s, want %d from %s to %s",
			len(got), got[0].ID, got[len(got)-1].ID, n/2, all[1], all[n-1])
	}
	for _, r := range got {
		if r.Environment != "staging" {
			t.Fatalf("Backups(acme, staging) returned %s/%s", r.Site, r.Environment)
		}
	}
	if lists.Load() != 2 {
		t.Errorf("Backups(acme, staging) made %d list requests, want 2", lists.Load())
	}
}

func TestClientBackupsPage(t *testing.T) {
	db := openCatalog(t)
	all := fillCatalog(t, db, 12)
	o := testOptions(t)
	o.Backups = db
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx := context.Background()

	recs, next, err := c.BackupsPage(ctx, "", "", "", 5)
	if err != nil || next != all[4] || cmp.Diff(all[:5], ids(recs)) != "" {
		t.Fatalf("BackupsPage(first 5) = %v, %q, %v; want %v, %q", ids(recs), next, err, all[:5], all[4])
	}
	recs, next, err = c.BackupsPage(ctx, "", "", next, 5)
	if err != nil || next != all[9] || cmp.Diff(all[5:10], ids(recs)) != "" {
		t.Fatalf("BackupsPage(second 5) = %v, %q, %v; want %v, %q", ids(recs), next, err, all[5:10], all[9])
	}
	recs, next, err = c.BackupsPage(ctx, "", "", next, 5)
	if err != nil || next != "" || cmp.Diff(all[10:], ids(recs)) != "" {
		t.Fatalf("BackupsPage(last) = %v, %q, %v; want %v, no next", ids(recs), next, err, all[10:])
	}
	recs, next, err = c.BackupsPage(ctx, "acme", "production", "", 0) // the default page
	if err != nil || next != "" || len(recs) != 6 {
		t.Fatalf("BackupsPage(acme, production) = %d records, %q, %v; want 6, no next", len(recs), next, err)
	}
	recs, _, err = c.BackupsPage(ctx, "nobody", "", "", 0)
	if err != nil || recs == nil || len(recs) != 0 {
		t.Fatalf("BackupsPage(unknown site) = %#v, %v; want an empty, non-nil slice", recs, err)
	}
	for _, bad := range []struct {
		after string
		limit int
	}{{"", MaxPageSize + 1}, {"01jq-x", 0}} {
		if _, _, err := c.BackupsPage(ctx, "", "", bad.after, bad.limit); !errors.Is(err, ErrInvalid) {
			t.Errorf("BackupsPage(after %q, limit %d) = %v, want ErrInvalid", bad.after, bad.limit, err)
		}
	}
}

func TestClientBackupsPageLinks(t *testing.T) {
	tests := []struct {
		links   []string
		want    string
		wantErr bool
	}{
		{nil, "", false},
		{[]string{`</api/v1/backups?after=01ab&limit=10>; rel="next"`}, "01ab", false},
		{[]string{`</api/v1/backups?after=01ab>; rel=next`}, "01ab", false},
		{[]string{`</x?after=00>; rel="prev", </api/v1/backups?after=01cd&limit=3>; rel="next"`}, "01cd", false},
		{[]string{`</x?after=00>; rel="prev"`, `<http://other.example/api/v1/backups?after=01ef>; rel="next last"`}, "01ef", false},
		{[]string{`</api/v1/backups?limit=10>; rel="next"`}, "", true},
		{[]string{`garbage`}, "", false},
	}
	for _, tt := range tests {
		got, err := nextAfter(tt.links)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("nextAfter(%q) = %q, %v; want %q, error %t", tt.links, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestClientBackupsStopsOnALoop: a daemon whose next page is the one just
// read would keep Backups asking forever.
func TestClientBackupsStopsOnALoop(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `</api/v1/backups?after=01ab&limit=1000>; rel="next"`)
		writeJSON(w, http.StatusOK, []catalog.Record{})
	}))
	defer ts.Close()
	_, err := NewClient(ts.URL, "", ts.Client()).Backups(context.Background(), "", "")
	if err == nil || !strings.Contains(err.Error(), "same page") {
		t.Fatalf("Backups from a looping daemon = %v, want an error", err)
	}
}

// TestClientBackupsOldDaemon: a daemon from before paging answers the whole
// list without a Link; Backups's first request is one it accepts.
func TestClientBackupsOldDaemon(t *testing.T) {
	recs := normalized(record("acme", "production", t0), record("acme", "production", t0.Add(-time.Hour)))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			writeError(w, http.StatusBadRequest, "unknown query parameter")
			return
		}
		writeJSON(w, http.StatusOK, recs)
	}))
	defer ts.Close()
	got, err := NewClient(ts.URL, "", ts.Client()).Backups(context.Background(), "", "")
	if err != nil || cmp.Diff(recs, got, equateEmpty) != "" {
		t.Fatalf("Backups from an old daemon = %d records, %v; want its 2", len(got), err)
	}
}

func TestClientBackup(t *testing.T) {
	a1, a2 := ambiguousPair()
	solo := record("other", "development", t0)
	o := testOptions(t)
	o.Backups = openCatalog(t, a1, a2, solo)
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx := context.Background()

	for _, id := range []string{solo.ID, solo.ID[:7], strings.ToUpper(solo.ID)} {
		got, err := c.Backup(ctx, id)
		if err != nil {
			t.Fatalf("Backup(%s): %v", id, err)
		}
		if diff := cmp.Diff(solo.Normalized(), got, equateEmpty); diff != "" {
			t.Errorf("Backup(%s) (-want +got):\n%s", id, diff)
		}
	}

	_, err := c.Backup(ctx, a1.ID[:10])
	if !errors.Is(err, ErrAmbiguous) || !errors.Is(err, catalog.ErrAmbiguous) {
		t.Errorf("Backup(ambiguous) = %v, want ErrAmbiguous and catalog.ErrAmbiguous", err)
	}
	if err == nil || !strings.Contains(err.Error(), a1.ID) || !strings.Contains(err.Error(), a2.ID) {
		t.Errorf("Backup(ambiguous) = %v, want the candidates named", err)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		t.Errorf("Backup(ambiguous) = %v also matches another sentinel", err)
	}

	_, err = c.Backup(ctx, "7zzzzzzz")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Backup(unknown) = %v, want ErrNotFound and catalog.ErrNotFound", err)
	}
	for _, bad := range []string{"", " ", "01jq-x", "a/b", solo.ID + "0"} {
		if _, err := c.Backup(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Backup(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := NewClient(ts.URL, "wrong", ts.Client()).Backup(ctx, solo.ID); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Backup with a wrong token = %v, want ErrUnauthorized", err)
	}
}

func TestClientAdmin(t *testing.T) {
	a1, a2 := ambiguousPair()
	keep := record("acme", "production", t0)
	db := openCatalog(t, a1, a2, keep)
	adm := &testAdmin{db: db}
	o := testOptions(t)
	o.Backups, o.Admin = db, adm
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx := context.Background()

	// Pin, then forgetting is refused.
	if err := c.Pin(ctx, keep.ID[:12], true); err != nil {
		t.Fatalf("Pin: %v", err)
	}
	if r, err := c.Backup(ctx, keep.ID); err != nil || !r.Pinned {
		t.Fatalf("after Pin, Backup = pinned %t, %v; want pinned", r.Pinned, err)
	}
	if _, err := c.Forget(ctx, keep.ID); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("Forget(pinned) = %v, want ErrInvalid saying it is pinned", err)
	}
	if err := c.Pin(ctx, keep.ID, false); err != nil {
		t.Fatalf("Pin(false): %v", err)
	}
	if r, err := c.Backup(ctx, keep.ID); err != nil || r.Pinned {
		t.Fatalf("after unpin, Backup = pinned %t, %v; want not pinned", r.Pinned, err)
	}

	// Forget by prefix; ambiguous and unknown prefixes.
	if _, err := c.Forget(ctx, a1.ID[:10]); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Forget(ambiguous) = %v, want ErrAmbiguous", err)
	}
	id, err := c.Forget(ctx, a2.ID[:11])
	if err != nil || id != a2.ID {
		t.Fatalf("Forget(%s) = %q, %v; want %q", a2.ID[:11], id, err, a2.ID)
	}
	if _, err := c.Backup(ctx, a2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Backup(forgotten) = %v, want ErrNotFound", err)
	}
	if _, err := c.Forget(ctx, a2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Forget(forgotten) = %v, want ErrNotFound", err)
	}
	if err := c.Pin(ctx, "7zzzzzzz", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Pin(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := c.Forget(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Forget(\"\") = %v, want ErrInvalid", err)
	}

	// Prune and check report what the Admin wrote.
	report, err := c.Prune(ctx, true)
	if err != nil || string(report) != `{"dry_run":true,"kept":2,"deleted":[]}` {
		t.Fatalf("Prune(dry run) = %s, %v", report, err)
	}
	if report, err = c.Prune(ctx, false); err != nil || string(report) != `{"dry_run":false,"kept":2,"deleted":[]}` {
		t.Fatalf("Prune = %s, %v", report, err)
	}
	report, ok, err := c.Check(ctx, true, true)
	if err != nil || !ok || string(report) != `{"records":2,"problems":[]}` {
		t.Fatalf("Check = %s, %t, %v", report, ok, err)
	}
	var v map[string]any
	if err := json.Unmarshal(report, &v); err != nil {
		t.Errorf("Check report is not JSON: %v", err)
	}

	want := []string{
		"pin " + keep.ID + " true", "forget " + keep.ID, "pin " + keep.ID + " false",
		"forget " + a2.ID, "prune true", "prune false", "check true true",
	}
	if diff := cmp.Diff(want, adm.called()); diff != "" {
		t.Errorf("Admin calls (-want +got):\n%s", diff)
	}
}

func TestClientAdminErrors(t *testing.T) {
	r := record("acme", "production", t0)
	ops := []struct {
		name string
		do   func(*Client) error
	}{
		{"Forget", func(c *Client) error { _, err := c.Forget(context.Background(), r.ID); return err }},
		{"Pin", func(c *Client) error { return c.Pin(context.Background(), r.ID, true) }},
		{"Unpin", func(c *Client) error { return c.Pin(context.Background(), r.ID, false) }},
		{"Prune", func(c *Client) error { _, err := c.Prune(context.Background(), true); return err }},
		{"Check", func(c *Client) error { _, _, err := c.Check(context.Background(), false, false); return err }},
	}
	tests := []struct {
		name     string
		admin    bool
		err      error  // the Admin's
		token    string // the client's
		want     error
		wantText string
	}{
		{"no admin", false, nil, testToken, ErrNotSupported, "not supported by this daemon"},
		{"unavailable", true, fmt.Errorf("%w: shutting down", ErrUnavailable), testToken, ErrUnavailable, "shutting down"},
		{"failure", true, errors.New("delete s3://bucket/key: connection reset"), testToken, nil, "connection reset (HTTP 500)"},
		{"no token", true, nil, "", ErrUnauthorized, "missing bearer token"},
		{"wrong token", true, nil, "not-the-token", ErrUnauthorized, "wrong control token"},
	}
	for _, op := range ops {
		for _, tt := range tests {
			t.Run(op.name+"/"+tt.name, func(t *testing.T) {
				db := openCatalog(t, r)
				o := testOptions(t)
				o.Backups = db
				adm := &testAdmin{db: db, err: tt.err}
				if tt.admin {
					o.Admin = adm
				}
				ts := startDaemon(t, o)
				err := op.do(NewClient(ts.URL, tt.token, ts.Client()))
				if err == nil {
					t.Fatalf("%s = nil, want an error", op.name)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("%s = %v, want %v", op.name, err, tt.want)
				}
				for _, s := range []error{ErrNotFound, ErrInvalid, ErrAmbiguous, ErrUnauthorized, ErrUnavailable, ErrNotSupported} {
					if s != tt.want && errors.Is(err, s) {
						t.Errorf("%s = %v also matches %v", op.name, err, s)
					}
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("%s = %v, want it to contain %q", op.name, err, tt.wantText)
				}
				if tt.token != "" && tt.token != testToken && strings.Contains(err.Error(), tt.token) {
					t.Errorf("error %q holds the token", err)
				}
				if tt.token != testToken && len(adm.called()) != 0 {
					t.Errorf("unauthorized %s reached Admin: %v", op.name, adm.called())
				}
			})
		}
	}
}

// TestClientLongOperationsHaveNoClientTimeout: with its own http.Client,
// Forget, Prune and Check are bounded by their context, not by
// DefaultClientTimeout; the rest keep it.
func TestClientLongOperationsHaveNoClientTimeout(t *testing.T) {
	c := NewClient("127.0.0.1:9469", "", nil)
	if c.hc.Timeout != DefaultClientTimeout || c.long.Timeout != 0 {
		t.Errorf("NewClient(nil) timeouts: %v and %v, want %v and none", c.hc.Timeout, c.long.Timeout, DefaultClientTimeout)
	}
	hc := &http.Client{Timeout: time.Hour}
	if c := NewClient("127.0.0.1:9469", "", hc); c.hc != hc || c.long != hc {
		t.Error("NewClient(hc) does not use hc for every request")
	}
}

// slowAdmin is a testAdmin whose Prune and Check take delay.
type slowAdmin struct {
	*testAdmin
	delay time.Duration
}

func (a slowAdmin) Prune(ctx context.Context, dryRun bool) (json.RawMessage, error) {
	time.Sleep(a.delay)
	return a.testAdmin.Prune(ctx, dryRun)
}

func (a slowAdmin) Check(ctx context.Context, repair, readData bool) (json.RawMessage, bool, error) {
	time.Sleep(a.delay)
	return a.testAdmin.Check(ctx, repair, readData)
}

// TestAdminOutlivesWriteTimeout: a prune or check that runs longer than
// the http.Server's write timeout still gets its answer through Serve,
// while a list request that slow does not.
func TestAdminOutlivesWriteTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	db := openCatalog(t, record("acme", "production", t0))
	o := testOptions(t)
	o.Admin = slowAdmin{&testAdmin{db: db}, 3 * timeout}
	o.Backups = pageHook{db, func(ctx context.Context, f catalog.Filter, after string, limit int) ([]catalog.Record, string, error) {
		time.Sleep(3 * timeout)
		return db.Page(ctx, f, after, limit)
	}}
	s := mustNew(t, o)
	s.writeTimeout = timeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	c := NewClient(ln.Addr().String(), testToken, hc)

	if _, err := c.Backups(ctx, "", ""); err == nil {
		t.Fatal("a list slower than the write timeout got its answer: the timeout is not in force")
	}
	if report, err := c.Prune(ctx, true); err != nil || !strings.Contains(string(report), `"kept":1`) {
		t.Errorf("slow Prune = %s, %v; want its report", report, err)
	}
	if _, ok, err := c.Check(ctx, false, true); err != nil || !ok {
		t.Errorf("slow Check = %t, %v; want ok", ok, err)
	}
}
