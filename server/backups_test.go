package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
)

// nextTarget returns the target of the Link header the server writes: the
// part between < and >, which must be followed by ; rel="next".
func nextTarget(tb testing.TB, link string) string {
	tb.Helper()
	target, rel, ok := strings.Cut(link, ">")
	if !ok || !strings.HasPrefix(target, "<") || rel != `; rel="next"` {
		tb.Fatalf("Link = %q, want <target>; rel=\"next\"", link)
	}
	return target[1:]
}

func decodeRecords(tb testing.TB, a answer) []catalog.Record {
	tb.Helper()
	if a.code != http.StatusOK {
		tb.Fatalf("answer = %d %s, want 200", a.code, a.body)
	}
	var recs []catalog.Record
	if err := json.Unmarshal([]byte(a.body), &recs); err != nil {
		tb.Fatalf("decode %s: %v", a.body, err)
	}
	return recs
}

func ids(rs []catalog.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestListBackupsPages(t *testing.T) {
	db := openCatalog(t)
	all := fillCatalog(t, db, 25) // newest first; even positions production
	var prod []string
	for i, id := range all {
		if i%2 == 0 {
			prod = append(prod, id)
		}
	}
	o := testOptions(t)
	o.Backups = db
	h := mustNew(t, o).Handler()

	tests := []struct {
		name      string
		first     string
		wantLinks []string // the Link targets, in order
		want      []string
	}{
		{"whole catalog", "/api/v1/backups?limit=10", []string{
			"/api/v1/backups?after=" + all[9] + "&limit=10",
			"/api/v1/backups?after=" + all[19] + "&limit=10",
		}, all},
		{"one environment", "/api/v1/backups?env=production&site=acme&limit=5", []string{
			"/api/v1/backups?site=acme&env=production&after=" + prod[4] + "&limit=5",
			"/api/v1/backups?site=acme&env=production&after=" + prod[9] + "&limit=5",
		}, prod},
		{"exactly one page", "/api/v1/backups?limit=25", nil, all},
		{"from the middle", "/api/v1/backups?after=" + strings.ToUpper(all[19]), nil, all[20:]},
		{"after the oldest", "/api/v1/backups?after=" + all[24], nil, []string{}},
		{"after a prefix", "/api/v1/backups?limit=3&after=" + all[2][:20], []string{
			"/api/v1/backups?after=" + all[5] + "&limit=3",
		}, nil}, // checked below: only the first page
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var links []string
			target := tt.first
			for range 10 {
				a := call(t, h, "GET", target, testToken, "")
				got = append(got, ids(decodeRecords(t, a))...)
				link := a.header.Get("Link")
				if link == "" {
					break
				}
				target = nextTarget(t, link)
				links = append(links, target)
				if tt.want == nil {
					break
				}
			}
			if diff := cmp.Diff(tt.wantLinks, links); diff != "" {
				t.Errorf("Link targets (-want +got):\n%s", diff)
			}
			if tt.want == nil {
				return
			}
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records over every page (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListBackupsDefaultPage(t *testing.T) {
	db := openCatalog(t)
	all := fillCatalog(t, db, catalog.DefaultPageSize+1)
	o := testOptions(t)
	o.Backups = db
	h := mustNew(t, o).Handler()

	a := call(t, h, "GET", "/api/v1/backups", testToken, "")
	recs := decodeRecords(t, a)
	if len(recs) != catalog.DefaultPageSize {
		t.Fatalf("GET /api/v1/backups = %d records, want the default page of %d", len(recs), catalog.DefaultPageSize)
	}
	want := fmt.Sprintf(`</api/v1/backups?after=%s&limit=%d>; rel="next"`, all[catalog.DefaultPageSize-1], catalog.DefaultPageSize)
	if got := a.header.Get("Link"); got != want {
		t.Errorf("Link = %q, want %q", got, want)
	}
	a = call(t, h, "GET", nextTarget(t, a.header.Get("Link")), testToken, "")
	if recs := decodeRecords(t, a); len(recs) != 1 || recs[0].ID != all[len(all)-1] {
		t.Errorf("second page = %v, want the oldest backup only", ids(recs))
	}
	if l := a.header.Get("Link"); l != "" {
		t.Errorf("last page has Link %q", l)
	}
	// The largest page there is.
	a = call(t, h, "GET", "/api/v1/backups?limit="+strconv.Itoa(MaxPageSize), testToken, "")
	if recs := decodeRecords(t, a); len(recs) != len(all) || a.header.Get("Link") != "" {
		t.Errorf("limit=%d: %d records, Link %q; want all %d and no Link", MaxPageSize, len(recs), a.header.Get("Link"), len(all))
	}
}

func TestListBackupsBadPaging(t *testing.T) {
	h := mustNew(t, testOptions(t)).Handler()
	tests := []struct{ query, wantInErr string }{
		{"?limit=0", "limit"},
		{"?limit=-1", "limit"},
		{"?limit=10001", "limit"},
		{"?limit=99999999999999999999", "limit"},
		{"?limit=ten", "limit"},
		{"?limit=1.5", "limit"},
		{"?limit=10&limit=20", "limit"},
		{"?after=01jq-x", "after"},
		{"?after=" + strings.Repeat("0", 27), "after"},
		{"?after=%00", "after"},
		{"?after=a&after=b", "after"},
		{"?page=2", "page"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := call(t, h, "GET", "/api/v1/backups"+tt.query, testToken, "")
			if a.code != http.StatusBadRequest {
				t.Fatalf("GET /api/v1/backups%s = %d %s, want 400", tt.query, a.code, a.body)
			}
			if msg := checkErrorBody(t, a); !strings.Contains(msg, tt.wantInErr) {
				t.Errorf("error %q does not name %s", msg, tt.wantInErr)
			}
		})
	}
	for _, q := range []string{"?limit=", "?limit=1", "?limit=10000", "?after="} {
		if a := call(t, h, "GET", "/api/v1/backups"+q, testToken, ""); a.code != http.StatusOK {
			t.Errorf("GET /api/v1/backups%s = %d %s, want 200", q, a.code, a.body)
		}
	}
}

// TestListBackupsPassesPaging checks what the handler asks the catalog for.
func TestListBackupsPassesPaging(t *testing.T) {
	type ask struct {
		F     catalog.Filter
		After string
		Limit int
	}
	var got []ask
	o := testOptions(t)
	o.Backups = pageHook{openCatalog(t), func(_ context.Context, f catalog.Filter, after string, limit int) ([]catalog.Record, string, error) {
		got = append(got, ask{f, after, limit})
		return nil, "", nil
	}}
	h := mustNew(t, o).Handler()
	for _, q := range []string{"", "?site=acme&env=production&limit=7&after=01JQ5X0N6V8K3W2C9M7F4H1R0E"} {
		a := call(t, h, "GET", "/api/v1/backups"+q, testToken, "")
		if a.code != http.StatusOK || strings.TrimSpace(a.body) != "[]" {
			t.Errorf("GET /api/v1/backups%s = %d %s, want 200 []", q, a.code, a.body)
		}
	}
	want := []ask{
		{catalog.Filter{}, "", catalog.DefaultPageSize},
		{catalog.Filter{Site: "acme", Environment: "production"}, "01jq5x0n6v8k3w2c9m7f4h1r0e", 7},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Page calls (-want +got):\n%s", diff)
	}
}

// ambiguousPair returns two records whose ids share their first 10
// characters (the time part) and differ in the 11th.
func ambiguousPair() (catalog.Record, catalog.Record) {
	a := record("acme", "production", t0.Add(-24*time.Hour))
	b := record("acme", "staging", t0.Add(-24*time.Hour))
	a.ID = a.ID[:10] + strings.Repeat("0", 16)
	b.ID = a.ID[:10] + strings.Repeat("z", 16)
	return a, b
}

func TestGetBackup(t *testing.T) {
	a1, a2 := ambiguousPair()
	solo := record("other", "development", t0)
	gone := record("other", "development", t0.Add(time.Hour))
	db := openCatalog(t, a1, a2, solo, gone)
	if err := db.MarkDeleting(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	o.Backups = db
	h := mustNew(t, o).Handler()

	tests := []struct {
		name, id  string
		wantCode  int
		want      catalog.Record
		wantInErr []string
	}{
		{"full id", solo.ID, 200, solo, nil},
		{"full id in upper case", strings.ToUpper(solo.ID), 200, solo, nil},
		{"unique prefix", a1.ID, 200, a1, nil},
		{"short unique prefix", solo.ID[:8], 200, solo, nil},
		{"ambiguous prefix", a1.ID[:10], 409, catalog.Record{}, []string{a1.ID, a2.ID, "ambiguous"}},
		{"no such backup", "7zzzzzzz", 404, catalog.Record{}, []string{"not found"}},
		{"marked deleting", gone.ID, 404, catalog.Record{}, []string{"not found"}},
		{"not an id", "01jq-x", 400, catalog.Record{}, []string{"01jq-x"}},
		{"too long", solo.ID + "0", 400, catalog.Record{}, []string{"backup id"}},
		{"escaped slash", "01jq%2Fx", 400, catalog.Record{}, []string{"backup id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, h, "GET", "/api/v1/backups/"+tt.id, testToken, "")
			if a.code != tt.wantCode {
				t.Fatalf("GET /api/v1/backups/%s = %d %s, want %d", tt.id, a.code, a.body, tt.wantCode)
			}
			if tt.wantCode != 200 {
				msg := checkErrorBody(t, a)
				for _, w := range tt.wantInErr {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not contain %q", msg, w)
					}
				}
				return
			}
			var got catalog.Record
			if err := json.Unmarshal([]byte(a.body), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want.Normalized(), got, equateEmpty); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetBackupCatalogFailure(t *testing.T) {
	o := testOptions(t)
	o.Backups = failingResolve{openCatalog(t), errors.New("read catalog: disk on fire")}
	h := mustNew(t, o).Handler()
	a := call(t, h, "GET", "/api/v1/backups/01jq", testToken, "")
	if a.code != http.StatusInternalServerError {
		t.Fatalf("GET with a failing catalog = %d %s, want 500", a.code, a.body)
	}
	if msg := checkErrorBody(t, a); !strings.Contains(msg, "disk on fire") {
		t.Errorf("error %q does not say what failed", msg)
	}
}

// failingResolve is a real catalog whose Resolve fails with err.
type failingResolve struct {
	*catalog.DB
	err error
}

func (f failingResolve) Resolve(context.Context, string) (string, error) { return "", f.err }

// adminServer returns a handler with a real catalog holding rs and a
// testAdmin over it.
func adminServer(t *testing.T, rs ...catalog.Record) (http.Handler, *catalog.DB, *testAdmin) {
	t.Helper()
	db := openCatalog(t, rs...)
	adm := &testAdmin{db: db}
	o := testOptions(t)
	o.Backups, o.Admin = db, adm
	return mustNew(t, o).Handler(), db, adm
}

func TestForgetBackup(t *testing.T) {
	a1, a2 := ambiguousPair()
	pinned := record("acme", "production", t0)
	pinned.Pinned = true
	h, db, adm := adminServer(t, a1, a2, pinned)
	ctx := context.Background()

	a := call(t, h, "DELETE", "/api/v1/backups/"+a1.ID[:10], testToken, "")
	if a.code != http.StatusConflict {
		t.Fatalf("DELETE ambiguous prefix = %d %s, want 409", a.code, a.body)
	}
	if msg := checkErrorBody(t, a); !strings.Contains(msg, a1.ID) || !strings.Contains(msg, a2.ID) {
		t.Errorf("409 error %q does not name both candidates", msg)
	}

	a = call(t, h, "DELETE", "/api/v1/backups/"+strings.ToUpper(a1.ID[:20]), testToken, "")
	if a.code != http.StatusOK || strings.TrimSpace(a.body) != `{"id":"`+a1.ID+`"}` {
		t.Fatalf("DELETE unique prefix = %d %s, want 200 {\"id\":%q}", a.code, a.body, a1.ID)
	}
	if _, err := db.Get(ctx, a1.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("after DELETE, Get = %v, want ErrNotFound", err)
	}
	if a := call(t, h, "GET", "/api/v1/backups/"+a1.ID, testToken, ""); a.code != http.StatusNotFound {
		t.Errorf("GET forgotten backup = %d, want 404", a.code)
	}
	// Now the prefix is unique.
	if a := call(t, h, "GET", "/api/v1/backups/"+a1.ID[:10], testToken, ""); a.code != http.StatusOK || !strings.Contains(a.body, a2.ID) {
		t.Errorf("GET the once ambiguous prefix = %d %s, want 200 with %s", a.code, a.body, a2.ID)
	}

	a = call(t, h, "DELETE", "/api/v1/backups/"+pinned.ID, testToken, "")
	if a.code != http.StatusBadRequest {
		t.Fatalf("DELETE pinned = %d %s, want 400", a.code, a.body)
	}
	if msg := checkErrorBody(t, a); !strings.Contains(msg, "pinned") {
		t.Errorf("error %q does not say the backup is pinned", msg)
	}
	if _, err := db.Get(ctx, pinned.ID); err != nil {
		t.Errorf("pinned backup gone after a refused DELETE: %v", err)
	}

	if a := call(t, h, "DELETE", "/api/v1/backups/7zzzzzzz", testToken, ""); a.code != http.StatusNotFound {
		t.Errorf("DELETE unknown = %d %s, want 404", a.code, a.body)
	}
	if a := call(t, h, "DELETE", "/api/v1/backups/no-such", testToken, ""); a.code != http.StatusBadRequest {
		t.Errorf("DELETE malformed id = %d %s, want 400", a.code, a.body)
	}
	// Admin sees full ids only, and only for resolved backups.
	want := []string{"forget " + a1.ID, "forget " + pinned.ID}
	if diff := cmp.Diff(want, adm.called()); diff != "" {
		t.Errorf("Admin calls (-want +got):\n%s", diff)
	}
}

func TestPinBackup(t *testing.T) {
	r := record("acme", "production", t0)
	h, db, adm := adminServer(t, r)
	ctx := context.Background()
	pinned := func() bool {
		t.Helper()
		got, err := db.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Pinned
	}

	a := call(t, h, "PUT", "/api/v1/backups/"+r.ID[:12]+"/pin", testToken, "")
	if a.code != http.StatusNoContent || a.body != "" {
		t.Fatalf("PUT pin = %d %q, want 204 and no body", a.code, a.body)
	}
	if !pinned() {
		t.Error("not pinned after PUT pin")
	}
	if a := call(t, h, "PUT", "/api/v1/backups/"+r.ID+"/pin", testToken, ""); a.code != http.StatusNoContent {
		t.Errorf("PUT pin again = %d %s, want 204", a.code, a.body)
	}
	if a := call(t, h, "DELETE", "/api/v1/backups/"+r.ID+"/pin", testToken, ""); a.code != http.StatusNoContent {
		t.Fatalf("DELETE pin = %d %s, want 204", a.code, a.body)
	}
	if pinned() {
		t.Error("still pinned after DELETE pin")
	}
	if a := call(t, h, "PUT", "/api/v1/backups/7zzzzzzz/pin", testToken, ""); a.code != http.StatusNotFound {
		t.Errorf("PUT pin of unknown = %d %s, want 404", a.code, a.body)
	}
	want := []string{"pin " + r.ID + " true", "pin " + r.ID + " true", "pin " + r.ID + " false"}
	if diff := cmp.Diff(want, adm.called()); diff != "" {
		t.Errorf("Admin calls (-want +got):\n%s", diff)
	}
}

func TestPruneAndCheck(t *testing.T) {
	h, _, adm := adminServer(t, record("acme", "production", t0), record("acme", "production", t0.Add(time.Hour)))
	tests := []struct {
		name, target, body string
		wantCode           int
		wantBody           string // exact, trimmed; or the substring of the error
		wantCall           string // "" = Admin not called
	}{
		{"prune", "/api/v1/prune", `{"dry_run":false}`, 200, `{"dry_run":false,"kept":2,"deleted":[]}`, "prune false"},
		{"prune dry run", "/api/v1/prune", `{"dry_run":true}`, 200, `{"dry_run":true,"kept":2,"deleted":[]}`, "prune true"},
		{"prune empty object", "/api/v1/prune", `{}`, 200, `{"dry_run":false,"kept":2,"deleted":[]}`, "prune false"},
		{"prune misspelt", "/api/v1/prune", `{"dryrun":true}`, 400, "unknown field", ""},
		{"prune wrong type", "/api/v1/prune", `{"dry_run":"yes"}`, 400, "decode", ""},
		{"prune no body", "/api/v1/prune", ``, 400, "empty request body", ""},
		{"prune two objects", "/api/v1/prune", `{}{}`, 400, "after the JSON object", ""},
		{"check", "/api/v1/check", `{"repair":false,"read_data":false}`, 200, `{"ok":true,"report":{"records":2,"problems":[]}}`, "check false false"},
		{"check repair read data", "/api/v1/check", `{"repair":true,"read_data":true}`, 200, `{"ok":true,"report":{"records":2,"problems":[]}}`, "check true true"},
		{"check unknown field", "/api/v1/check", `{"repair":true,"fix":true}`, 400, "unknown field", ""},
		{"check too large", "/api/v1/check", `{"repair":true,"x":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "larger than", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(adm.called())
			a := call(t, h, "POST", tt.target, testToken, tt.body, func(r *http.Request) {
				r.Header.Set("Content-Type", "application/json")
			})
			if a.code != tt.wantCode {
				t.Fatalf("POST %s %s = %d %s, want %d", tt.target, tt.body, a.code, a.body, tt.wantCode)
			}
			if tt.wantCode == 200 {
				if got := strings.TrimSpace(a.body); got != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
			} else if msg := checkErrorBody(t, a); !strings.Contains(msg, tt.wantBody) {
				t.Errorf("error %q does not contain %q", msg, tt.wantBody)
			}
			var call string
			if calls := adm.called(); len(calls) > before {
				call = calls[len(calls)-1]
			}
			if call != tt.wantCall {
				t.Errorf("Admin call = %q, want %q", call, tt.wantCall)
			}
		})
	}
	t.Run("check finds problems", func(t *testing.T) {
		h, _, _ := adminServer(t) // empty: the testAdmin reports not ok
		a := call(t, h, "POST", "/api/v1/check", testToken, `{}`)
		if a.code != 200 || strings.TrimSpace(a.body) != `{"ok":false,"report":{"records":0,"problems":[]}}` {
			t.Errorf("POST /api/v1/check = %d %s, want 200 with ok false", a.code, a.body)
		}
	})
}

func TestAdminErrors(t *testing.T) {
	r := record("acme", "production", t0)
	routes := []struct{ method, target, body string }{
		{"DELETE", "/api/v1/backups/" + r.ID, ""},
		{"PUT", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"DELETE", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"POST", "/api/v1/prune", `{"dry_run":true}`},
		{"POST", "/api/v1/check", `{}`},
	}
	tests := []struct {
		err      error
		wantCode int
	}{
		{fmt.Errorf("backup %s: %w", r.ID, catalog.ErrNotFound), 404},
		{fmt.Errorf("%w: someone else's", ErrNotFound), 404},
		{fmt.Errorf("%w: it matches a, b", catalog.ErrAmbiguous), 409},
		{fmt.Errorf("%w: it matches a, b", ErrAmbiguous), 409},
		{fmt.Errorf("%w: it is pinned", ErrInvalid), 400},
		{fmt.Errorf("%w: bad record", catalog.ErrInvalid), 400},
		{fmt.Errorf("%w: shutting down", ErrUnavailable), 503},
		{fmt.Errorf("open catalog: %w", catalog.ErrReadOnly), 500},
		{errors.New("delete s3://bucket/key: connection reset"), 500},
	}
	for _, rt := range routes {
		for _, tt := range tests {
			t.Run(rt.method+" "+rt.target+"/"+tt.err.Error(), func(t *testing.T) {
				h, _, adm := adminServer(t, r)
				adm.err = tt.err
				a := call(t, h, rt.method, rt.target, testToken, rt.body)
				if a.code != tt.wantCode {
					t.Fatalf("%s %s with Admin error %v = %d %s, want %d", rt.method, rt.target, tt.err, a.code, a.body, tt.wantCode)
				}
				if msg := checkErrorBody(t, a); msg != tt.err.Error() {
					t.Errorf("error = %q, want the Admin's %q", msg, tt.err.Error())
				}
			})
		}
	}
}

func TestAdminNotSupported(t *testing.T) {
	r := record("acme", "production", t0)
	o := testOptions(t)
	o.Backups = openCatalog(t, r) // and no Admin
	h := mustNew(t, o).Handler()
	for _, rt := range []struct{ method, target, body string }{
		{"DELETE", "/api/v1/backups/" + r.ID, ""},
		{"DELETE", "/api/v1/backups/not-an-id", ""},
		{"PUT", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"DELETE", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"POST", "/api/v1/prune", `{"dry_run":true}`},
		{"POST", "/api/v1/check", `{}`},
	} {
		a := call(t, h, rt.method, rt.target, testToken, rt.body)
		if a.code != http.StatusNotImplemented {
			t.Errorf("%s %s without Admin = %d %s, want 501", rt.method, rt.target, a.code, a.body)
			continue
		}
		if msg := checkErrorBody(t, a); msg != "not supported by this daemon" {
			t.Errorf("501 error = %q", msg)
		}
	}
	// Reading still works.
	if a := call(t, h, "GET", "/api/v1/backups/"+r.ID, testToken, ""); a.code != http.StatusOK {
		t.Errorf("GET without Admin = %d %s, want 200", a.code, a.body)
	}
}

// TestAdminRoutesAuth: the token, the loopback rule and cross-origin
// protection hold for every new route, and a refused request changes
// nothing.
func TestAdminRoutesAuth(t *testing.T) {
	r := record("acme", "production", t0)
	routes := []struct{ method, target, body string }{
		{"GET", "/api/v1/backups/" + r.ID, ""},
		{"DELETE", "/api/v1/backups/" + r.ID, ""},
		{"PUT", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"DELETE", "/api/v1/backups/" + r.ID + "/pin", ""},
		{"POST", "/api/v1/prune", `{"dry_run":false}`},
		{"POST", "/api/v1/check", `{"repair":true}`},
	}
	refusals := []struct {
		name     string
		token    string // the server's
		send     string // the request's
		mod      func(*http.Request)
		wantCode int
	}{
		{"no token", testToken, "", nil, 401},
		{"wrong token", testToken, "wrong", nil, 401},
		{"cross-origin", testToken, testToken, func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://attacker.example")
		}, 403},
		{"no token configured, foreign host", "", "", func(r *http.Request) { r.Host = "attacker.example:9469" }, 403},
	}
	for _, rt := range routes {
		for _, rf := range refusals {
			if rf.name == "cross-origin" && rt.method == "GET" {
				continue // reading is not a state change
			}
			t.Run(rt.method+" "+rt.target+"/"+rf.name, func(t *testing.T) {
				db := openCatalog(t, r)
				adm := &testAdmin{db: db}
				o := testOptions(t)
				o.Token, o.Backups, o.Admin = rf.token, db, adm
				h := mustNew(t, o).Handler()
				var mods []func(*http.Request)
				if rf.mod != nil {
					mods = append(mods, rf.mod)
				}
				a := call(t, h, rt.method, rt.target, rf.send, rt.body, mods...)
				if a.code != rf.wantCode {
					t.Fatalf("%s %s (%s) = %d %s, want %d", rt.method, rt.target, rf.name, a.code, a.body, rf.wantCode)
				}
				checkErrorBody(t, a)
				if calls := adm.called(); len(calls) != 0 {
					t.Errorf("refused request reached Admin: %v", calls)
				}
				if _, err := db.Get(context.Background(), r.ID); err != nil {
					t.Errorf("backup gone after a refused request: %v", err)
				}
			})
		}
		t.Run(rt.method+" "+rt.target+"/right token", func(t *testing.T) {
			h, _, _ := adminServer(t, r)
			if a := call(t, h, rt.method, rt.target, testToken, rt.body); a.code/100 != 2 {
				t.Errorf("%s %s with the token = %d %s, want success", rt.method, rt.target, a.code, a.body)
			}
		})
	}
}

func TestNewMethodsAndPaths(t *testing.T) {
	h, _, _ := adminServer(t)
	tests := []struct {
		method, target string
		wantCode       int
		wantAllow      string
	}{
		{"POST", "/api/v1/backups/01jq", 405, "GET, HEAD, DELETE"},
		{"PUT", "/api/v1/backups/01jq", 405, "GET, HEAD, DELETE"},
		{"GET", "/api/v1/backups/01jq/pin", 405, "PUT, DELETE"},
		{"POST", "/api/v1/backups/01jq/pin", 405, "PUT, DELETE"},
		{"GET", "/api/v1/prune", 405, "POST"},
		{"DELETE", "/api/v1/check", 405, "POST"},
		{"GET", "/api/v1/backups/01jq/other", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			a := call(t, h, tt.method, tt.target, testToken, "")
			if a.code != tt.wantCode {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.target, a.code, tt.wantCode)
			}
			if got := a.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			checkErrorBody(t, a)
		})
	}
}

func TestReadyzDraining(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	o := testOptions(t)
	o.Ready = ready.Load
	s := mustNew(t, o)
	h := s.Handler()
	if a := call(t, h, "GET", "/readyz", "", ""); a.code != http.StatusOK {
		t.Fatalf("GET /readyz before draining = %d, want 200", a.code)
	}
	s.SetDraining()
	s.SetDraining() // again: no harm
	for _, ok := range []bool{true, false} {
		ready.Store(ok)
		a := call(t, h, "GET", "/readyz", "", "")
		if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "draining for shutdown") {
			t.Errorf("GET /readyz while draining (Ready %t) = %d %q, want 503 naming the drain", ok, a.code, a.body)
		}
	}
	// Draining is for load balancers: the rest keeps answering.
	if a := call(t, h, "GET", "/healthz", "", ""); a.code != http.StatusOK {
		t.Errorf("GET /healthz while draining = %d, want 200", a.code)
	}
	if a := call(t, h, "GET", "/api/v1/backups", testToken, ""); a.code != http.StatusOK {
		t.Errorf("GET /api/v1/backups while draining = %d, want 200", a.code)
	}
	ready.Store(false)
	if a := call(t, mustNew(t, o).Handler(), "GET", "/readyz", "", ""); a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "not ready") {
		t.Errorf("GET /readyz of a server not ready and not draining = %d %q, want 503 not ready", a.code, a.body)
	}
}

// TestListLinkKeepsFilter: the Link's query parses back to the same
// filter, after and limit.
func TestListLinkKeepsFilter(t *testing.T) {
	link := nextLink(catalog.Filter{Site: "acme", Environment: "prod_1"}, "01jq5x0n6v8k3w2c9m7f4h1r0e", 50)
	u, err := url.Parse(nextTarget(t, link))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/api/v1/backups" || q.Get("site") != "acme" || q.Get("env") != "prod_1" || q.Get("after") != "01jq5x0n6v8k3w2c9m7f4h1r0e" || q.Get("limit") != "50" {
		t.Errorf("Link %q parses to %s %v", link, u.Path, q)
	}
}
