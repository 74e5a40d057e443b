package vectorapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// routeSetAPI is an API that serves the export-status route of some route
// sets only, as the real one would: a made-up export of a made-up site on
// a route it has is a "Site not found" in its envelope; a path it has no
// route for is the framework's bare 404 (as JSON or as an HTML page).
type routeSetAPI struct {
	sets     map[string]bool
	bareHTML bool // bare 404s as HTML rather than {"message":"Not Found"}
	token    string

	mu       sync.Mutex
	requests []string
}

func (a *routeSetAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.Method+" "+r.URL.RequestURI())
	a.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", "120")
	w.Header().Set("X-RateLimit-Remaining", "117")
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/vector")
	var set string
	switch {
	case strings.HasPrefix(p, "/sites/") && strings.Contains(p, "/database/export/"):
		set = RoutesDocumented
	case strings.HasPrefix(p, "/sites/") && strings.Contains(p, "/db/exports/"):
		set = RoutesOpenAPI
	case p == "/sites":
		set = "account"
	}
	if set == "" || (set != "account" && !a.sets[set]) {
		if a.bareHTML {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("<!DOCTYPE html><html><title>Not Found</title></html>"))
			return
		}
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		writeJSON(w, http.StatusUnauthorized, `{"data":{},"message":"Unauthenticated","http_status":401}`)
		return
	}
	if set == "account" {
		writeJSON(w, http.StatusOK, `{"data":[],"links":{},"meta":{},"http_status":200}`)
		return
	}
	writeJSON(w, http.StatusNotFound, `{"data":{},"message":"Site not found","http_status":404}`)
}

// TestProbe: which route set answers, whether the token is accepted, the
// rate-limit headers, and no database operation spent.
func TestProbe(t *testing.T) {
	probeDocumented := "GET /api/v1/vector/sites/00000000000000000000000000/database/export/00000000000000000000000000"
	probeOpenAPI := "GET /api/v1/vector/sites/00000000000000000000000000/db/exports/00000000000000000000000000"
	probeToken := "GET /api/v1/vector/sites?per_page=1"
	tests := []struct {
		name         string
		sets         map[string]bool
		bareHTML     bool
		token        string
		want         ProbeResult
		wantRequests []string
	}{
		{"openapi only", map[string]bool{RoutesOpenAPI: true}, false, testToken,
			ProbeResult{TokenOK: true, RouteSets: map[string]bool{RoutesDocumented: false, RoutesOpenAPI: true}},
			[]string{probeDocumented, probeOpenAPI}},
		{"documented only, HTML 404s", map[string]bool{RoutesDocumented: true}, true, testToken,
			ProbeResult{TokenOK: true, RouteSets: map[string]bool{RoutesDocumented: true, RoutesOpenAPI: false}},
			[]string{probeDocumented, probeOpenAPI}},
		{"both", map[string]bool{RoutesDocumented: true, RoutesOpenAPI: true}, false, testToken,
			ProbeResult{TokenOK: true, RouteSets: map[string]bool{RoutesDocumented: true, RoutesOpenAPI: true}},
			[]string{probeDocumented, probeOpenAPI}},
		{"neither: the token is checked on /sites", map[string]bool{}, false, testToken,
			ProbeResult{TokenOK: true, RouteSets: map[string]bool{RoutesDocumented: false, RoutesOpenAPI: false}},
			[]string{probeDocumented, probeOpenAPI, probeToken}},
		{"refused token", map[string]bool{RoutesOpenAPI: true}, false, "another-token",
			ProbeResult{TokenError: "HTTP 401: Unauthenticated", RouteSets: map[string]bool{RoutesDocumented: false}},
			[]string{probeDocumented, probeOpenAPI}},
		{"refused token, neither set", map[string]bool{}, false, "another-token",
			ProbeResult{TokenError: "HTTP 401: Unauthenticated", RouteSets: map[string]bool{RoutesDocumented: false, RoutesOpenAPI: false}},
			[]string{probeDocumented, probeOpenAPI, probeToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The configured route set does not change what is probed.
			for _, routes := range []string{RoutesDocumented, RoutesOpenAPI} {
				api := &routeSetAPI{sets: tc.sets, bareHTML: tc.bareHTML, token: tc.token}
				var mu sync.Mutex
				var observed []string
				spent := false
				c := pagesClient(t, api, func(o *Options) {
					o.Routes = routes
					o.Observe = func(op, code string) {
						mu.Lock()
						defer mu.Unlock()
						observed = append(observed, op)
					}
					o.BeforeRetry = func(context.Context, string) error { spent = true; return nil }
					o.RateLimit = func(int, time.Time) { spent = true }
				})
				got, err := c.Probe(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				want := tc.want
				want.RateLimitHeaders = map[string]string{"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "117"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("routes %s: Probe (-want +got):\n%s", routes, diff)
				}
				api.mu.Lock()
				if diff := cmp.Diff(tc.wantRequests, api.requests); diff != "" {
					t.Errorf("routes %s: requests (-want +got):\n%s", routes, diff)
				}
				api.mu.Unlock()
				mu.Lock()
				for _, op := range observed {
					if op != "probe" {
						t.Errorf("observed operation %q, want probe", op)
					}
				}
				if len(observed) != len(tc.wantRequests) {
					t.Errorf("observed %d attempts, want %d", len(observed), len(tc.wantRequests))
				}
				mu.Unlock()
				if spent {
					t.Error("Probe touched the database-operation budget")
				}
			}
		})
	}
}

// TestProbeRefusedToken: a refusal on every probe leaves no route set
// told, and TokenError never holds the token itself.
func TestProbeRefusedToken(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export_status",
		fault{status: 401, body: `{"data":{},"message":"Unauthenticated","http_status":401}`},
		fault{status: 403, body: `{"data":{},"message":"Token ` + testToken + ` lacks ability","http_status":403}`})
	got, err := api.client(t, nil).Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenOK || got.TokenError != "HTTP 403: Token [redacted] lacks ability" || len(got.RouteSets) != 0 {
		t.Errorf("Probe = %+v; want a refused token and no route set told", got)
	}
	assertNoSecret(t, "TokenError", got.TokenError)
}

// TestProbeErrors: an answer that cannot be had is an error, with what was
// learnt so far; 5xx are retried first.
func TestProbeErrors(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export_status",
		fault{status: 404, body: `{"data":{},"message":"Site not found","http_status":404}`},
		fault{status: 503}, fault{status: 503}, fault{status: 503})
	got, err := api.client(t, func(o *Options) { o.MaxRetries = 2 }).Probe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "probe the openapi routes: probe: HTTP 503") {
		t.Errorf("error = %v, want one naming the openapi probe's 503", err)
	}
	if !got.TokenOK || !got.RouteSets[RoutesDocumented] {
		t.Errorf("Probe = %+v, want what the first probe learnt", got)
	}
	if n := len(api.served("export_status")); n != 4 {
		t.Errorf("requests = %d, want 4 (one, then three for the 503s)", n)
	}
	// A framework's route-not-found in an envelope-like answer is not a
	// route, and neither is a 405.
	for _, f := range []fault{
		{status: 404, body: `{"data":null,"message":"The route api/v1/vector/sites/x could not be found."}`},
		{status: 404, body: `{"data":{},"message":"Not Found.","http_status":404}`},
		{status: 405, body: `{"data":{},"message":"The GET method is not supported for route","http_status":405}`},
	} {
		api := newFakeAPI(t)
		api.queue("export_status", f, f)
		got, err := api.client(t, nil).Probe(t.Context())
		if err != nil || got.RouteSets[RoutesDocumented] || got.RouteSets[RoutesOpenAPI] || !got.TokenOK {
			t.Errorf("answer %d %s: Probe = %+v, %v; want no route set, the token checked on /sites", f.status, f.body, got, err)
		}
		if n := len(api.served("sites")); n != 1 {
			t.Errorf("answer %d: /sites requests = %d, want 1", f.status, n)
		}
	}
}
