package vectorapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// accountFake serves /sites and /environments from lists of JSON objects,
// n a page, with meta.last_page on sites and links.next on environments.
type accountFake struct {
	mu       sync.Mutex
	sites    []string
	envs     []string
	n        int
	requests []string
}

func (f *accountFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeJSON(w, http.StatusUnauthorized, `{"data":{},"message":"Unauthenticated","http_status":401}`)
		return
	}
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	list := f.sites
	if strings.HasSuffix(r.URL.Path, "/environments") {
		list = f.envs
	}
	last := max(1, (len(list)+f.n-1)/f.n)
	var chunk []string
	if lo := (page - 1) * f.n; lo < len(list) {
		chunk = list[lo:min(lo+f.n, len(list))]
	}
	var info string
	if strings.HasSuffix(r.URL.Path, "/environments") {
		next := "null"
		if page < last {
			next = fmt.Sprintf(`"/api/v1/vector/environments?page=%d"`, page+1)
		}
		info = `"links":{"next":` + next + `},"meta":{}`
	} else {
		info = fmt.Sprintf(`"links":{},"meta":{"current_page":%d,"last_page":%d}`, page, last)
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":[%s],%s,"http_status":200}`, strings.Join(chunk, ","), info))
}

// TestSitesPages: three pages of sites; environments from the site objects
// where embedded (as an array or a {"data": [...]} object), else from every
// page of /environments.
func TestSitesPages(t *testing.T) {
	f := &accountFake{n: 2, sites: []string{
		`{"id":"s1","your_customer_id":"acme","dev_domain":"dev.acme.vectorpages.com","environments":[{"id":"e1","name":"production"},{"id":"e2","name":"staging"}]}`,
		`{"id":"s2","your_customer_id":"beta"}`,
		`{"id":3,"name":"gamma","environments":{"data":[{"id":"e3","name":"production"}]}}`,
		`{"id":"s4","your_customer_id":"delta","environments":[]}`,
		`{"id":"s5","subdomain":"wispy-dust"}`,
	}, envs: []string{
		`{"id":"e1","vector_site_id":"s1","name":"production"}`, // embedded already: not added twice
		`{"id":"e4","vector_site_id":"s2","name":"production"}`,
		`{"id":"e5","vector_site_id":"s5","name":"staging"}`,
		`{"id":"e6","vector_site_id":"s-unknown","name":"production"}`,
		`{"id":"e7","vector_site_id":"s2","name":"staging"}`,
	}}
	got, err := pagesClient(t, f).Sites(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Site{
		{ID: "s1", Name: "acme", Domain: "dev.acme.vectorpages.com", Environments: []Environment{
			{ID: "e1", Name: "production", SiteID: "s1"}, {ID: "e2", Name: "staging", SiteID: "s1"}}},
		{ID: "s2", Name: "beta", Environments: []Environment{
			{ID: "e4", Name: "production", SiteID: "s2"}, {ID: "e7", Name: "staging", SiteID: "s2"}}},
		{ID: "3", Name: "gamma", Environments: []Environment{{ID: "e3", Name: "production", SiteID: "3"}}},
		{ID: "s4", Name: "delta", Environments: []Environment{}},
		{ID: "s5", Name: "wispy-dust", Environments: []Environment{{ID: "e5", Name: "staging", SiteID: "s5"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sites (-want +got):\n%s", diff)
	}
	wantRequests := []string{
		"GET /api/v1/vector/sites?page=1&per_page=100",
		"GET /api/v1/vector/sites?page=2&per_page=100",
		"GET /api/v1/vector/sites?page=3&per_page=100",
		"GET /api/v1/vector/environments?page=1&per_page=100",
		"GET /api/v1/vector/environments?page=2&per_page=100",
		"GET /api/v1/vector/environments?page=3&per_page=100",
	}
	if diff := cmp.Diff(wantRequests, f.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestSitesEmbeddedOnly(t *testing.T) {
	f := &accountFake{n: 100, sites: []string{`{"id":"s1","environments":[{"id":"e1","name":"production"}]}`}}
	got, err := pagesClient(t, f).Sites(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Environments) != 1 || len(f.requests) != 1 {
		t.Errorf("Sites = %+v after %q; want one site with one environment after one request", got, f.requests)
	}
	// No sites at all: an empty list, not nil.
	f = &accountFake{n: 100}
	got, err = pagesClient(t, f).Sites(t.Context())
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Sites = %#v, %v; want an empty list", got, err)
	}
}

func TestSitesErrors(t *testing.T) {
	t.Run("401", func(t *testing.T) {
		api := newFakeAPI(t)
		_, err := api.client(t, func(o *Options) { o.Token = "wrong" }).Sites(t.Context())
		if !errors.Is(err, ErrUnauthorized) || len(api.served("")) != 1 {
			t.Errorf("error = %v after %d requests, want ErrUnauthorized after 1", err, len(api.served("")))
		}
	})
	t.Run("site without id", func(t *testing.T) {
		f := &accountFake{n: 100, sites: []string{`{"id":"s1"}`, `{"name":"x"}`}}
		_, err := pagesClient(t, f).Sites(t.Context())
		if err == nil || err.Error() != "list sites, page 1, item 2: the site has no id" {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("environment without id", func(t *testing.T) {
		f := &accountFake{n: 100, sites: []string{`{"id":"s1","environments":[{"name":"production"}]}`}}
		_, err := pagesClient(t, f).Sites(t.Context())
		if err == nil || err.Error() != "list sites, page 1, item 1: environments[0]: the environment has no id" {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("environments 5xx", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("environments", fault{status: 503}, fault{status: 503}, fault{status: 503})
		_, err := api.client(t, func(o *Options) { o.MaxRetries = 2 }).Sites(t.Context())
		if err == nil || !strings.Contains(err.Error(), "list environments: HTTP 503") {
			t.Errorf("error = %v", err)
		}
	})
}
