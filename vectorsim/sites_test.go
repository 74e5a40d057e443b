package vectorsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// assertListShape fails unless a paginated answer has the shape of the
// OpenAPI example: the envelope's keys, every item's keys and kinds, and
// Laravel's links and meta (the examples show both as {}).
func assertListShape(t testing.TB, a answer, example string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("answer = %d %s, want 200", a.status, a.raw)
	}
	want := readExample(t, example)
	got := maps.Clone(a.body)
	links, _ := got["links"].(map[string]any)
	meta, _ := got["meta"].(map[string]any)
	got["links"], got["meta"] = map[string]any{}, map[string]any{}
	items, _ := got["data"].([]any)
	got["data"] = []any{}
	if d := shapeDiff(got, want, "$"); len(d) > 0 {
		t.Errorf("envelope %s differs in shape from %s:\n%s", a.raw, example, strings.Join(d, "\n"))
	}
	wantItem := want["data"].([]any)[0]
	for i, it := range items {
		if d := shapeDiff(it, wantItem, fmt.Sprintf("$.data[%d]", i)); len(d) > 0 {
			t.Errorf("item %d differs in shape from %s:\n%s", i, example, strings.Join(d, "\n"))
		}
	}
	if k := slices.Sorted(maps.Keys(links)); !slices.Equal(k, []string{"first", "last", "next", "prev"}) {
		t.Errorf("links keys = %v", k)
	}
	wantMeta := []string{"current_page", "from", "last_page", "links", "path", "per_page", "to", "total"}
	if k := slices.Sorted(maps.Keys(meta)); !slices.Equal(k, wantMeta) {
		t.Errorf("meta keys = %v, want %v", k, wantMeta)
	}
}

// items returns the data array of a list answer.
func (a answer) items() []map[string]any {
	var out []map[string]any
	list, _ := a.body["data"].([]any)
	for _, it := range list {
		out = append(out, it.(map[string]any))
	}
	return out
}

func (a answer) meta(key string) any {
	m, _ := a.body["meta"].(map[string]any)
	return m[key]
}

func (a answer) link(key string) any {
	m, _ := a.body["links"].(map[string]any)
	return m[key]
}

func TestSitesAndEnvironmentsShapes(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.AddSite("12345", "77777") // a second environment, added later
	tests := []struct {
		path, example string
		list          bool
	}{
		{"/sites", "openapi/sites_list_200.json", true},
		{"/sites?per_page=1&page=2", "openapi/sites_list_200.json", true},
		{"/environments", "openapi/environments_list_200.json", true},
		{"/environments?site=12345", "openapi/environments_list_200.json", true},
		{"/sites/12345", "openapi/site_200.json", false},
		{"/sites/23456", "openapi/site_200.json", false},
		{"/environments/67890", "openapi/environment_200.json", false},
		{"/environments/77777", "openapi/environment_200.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a := e.api("GET", tt.path, nil)
			if tt.list {
				assertListShape(t, a, tt.example)
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tt.path, a.status, a.raw)
			}
			assertShape(t, a, tt.example)
		})
	}
	for _, tt := range []struct{ path, message, example string }{
		{"/sites/99999", "Site not found", "openapi/site_404.json"},
		{"/environments/99999", "Environment not found", "openapi/environment_404.json"},
		{"/environments?site=99999", "Site not found", "openapi/environments_list_404.json"},
	} {
		a := e.api("GET", tt.path, nil)
		if a.status != http.StatusNotFound || a.body["message"] != tt.message {
			t.Errorf("GET %s = %d %s, want 404 %q", tt.path, a.status, a.raw, tt.message)
		}
		assertShape(t, a, tt.example)
	}
}

func TestSitesDerivedNames(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.AddSite("34567", "staging", "production", "80001", "80002")
	site := e.api("GET", "/sites/12345", nil).data()
	sub := strings.TrimSuffix(strings.TrimPrefix(site["dev_domain"].(string), "dev."), ".vectorpages.com")
	if strings.Count(sub, "-") != 1 {
		t.Errorf("subdomain %q, want two words", sub)
	}
	env := e.api("GET", "/environments/67890", nil).data()
	if env["name"] != "production" || env["is_production"] != true || env["subdomain"] != sub ||
		env["platform_domain"] != sub+"--prod.vectorpages.com" || env["vector_site_id"] != "12345" ||
		env["database_name"] != "db_67890" {
		t.Errorf("environment 67890 = %v", env)
	}
	envs := e.api("GET", "/sites/34567", nil).data()["environments"].([]any)
	var names []string
	for _, x := range envs {
		names = append(names, x.(map[string]any)["name"].(string))
	}
	if want := []string{"staging", "production", "preview", "env-4"}; !slices.Equal(names, want) {
		t.Errorf("environment names = %v, want %v", names, want)
	}
	// The same ids give the same names on another server.
	other := newEnv(t, Options{})
	if got := other.api("GET", "/sites/12345", nil).data()["dev_domain"]; got != site["dev_domain"] {
		t.Errorf("dev_domain on another server = %v, want %v", got, site["dev_domain"])
	}
	// Subdomains are unique; a site can be found by its subdomain.
	seen := map[string]bool{}
	for i := range 40 {
		e.sim.AddSite(fmt.Sprint(50000+i), fmt.Sprint(60000+i))
	}
	for _, s := range e.api("GET", "/sites?per_page=100", nil).items() {
		d := s["dev_domain"].(string)
		if seen[d] {
			t.Errorf("dev_domain %s given twice", d)
		}
		seen[d] = true
	}
	a := e.api("GET", "/environments?site="+sub, nil)
	if ids := a.items(); len(ids) != 1 || ids[0]["id"] != "67890" {
		t.Errorf("environments of site %s = %s", sub, a.raw)
	}
}

func TestSitesPagination(t *testing.T) {
	e := newEnv(t, Options{})
	for i := range 38 { // 40 sites in all, each added a minute after the last
		e.clock.Advance(time.Minute)
		e.sim.AddSite(fmt.Sprint(30000 + i))
	}
	base := e.srv.URL + "/api/v1/vector/sites"
	a := e.api("GET", "/sites", nil)
	assertListShape(t, a, "openapi/sites_list_200.json")
	if n := len(a.items()); n != 15 {
		t.Errorf("default page has %d sites, want 15", n)
	}
	if first := a.items()[0]["id"]; first != "30037" {
		t.Errorf("first site = %v, want the newest, 30037", first)
	}
	a = e.api("GET", "/sites?per_page=15&page=3&search=", nil)
	checks := map[string]any{
		"current_page": jsonNum(3), "from": jsonNum(31), "to": jsonNum(40), "last_page": jsonNum(3),
		"per_page": jsonNum(15), "total": jsonNum(40), "path": base,
	}
	for k, want := range checks {
		if got := a.meta(k); got != want {
			t.Errorf("meta.%s = %v, want %v", k, got, want)
		}
	}
	for k, want := range map[string]any{"first": base + "?page=1", "last": base + "?page=3", "prev": base + "?page=2", "next": nil} {
		if got := a.link(k); got != want {
			t.Errorf("links.%s = %v, want %v", k, got, want)
		}
	}
	if got := a.items()[9]["id"]; got != "23456" && got != "12345" {
		t.Errorf("last site = %v, want one of the two oldest", got)
	}
	// All pages together hold every site once.
	seen := map[any]bool{}
	for p := 1; p <= 4; p++ {
		for _, s := range e.api("GET", fmt.Sprintf("/sites?per_page=7&page=%d", p), nil).items() {
			seen[s["id"]] = true
		}
	}
	if len(seen) != 28 {
		t.Errorf("4 pages of 7 hold %d distinct sites, want 28", len(seen))
	}
	a = e.api("GET", "/sites?page=9", nil)
	if len(a.items()) != 0 || a.meta("from") != nil || a.meta("to") != nil || a.link("prev") != base+"?page=8" {
		t.Errorf("page past the end = %s", a.raw)
	}
	if a = e.api("GET", "/sites?page=nonsense", nil); a.meta("current_page") != jsonNum(1) {
		t.Errorf("page=nonsense: current_page = %v, want 1", a.meta("current_page"))
	}
	for _, q := range []string{"per_page=0", "per_page=101", "per_page=x", "status=bogus", "sort=name", "direction=up"} {
		if a := e.api("GET", "/sites?"+q, nil); a.status != http.StatusUnprocessableEntity || a.body["errors"] == nil {
			t.Errorf("GET /sites?%s = %d %s, want 422 with errors", q, a.status, a.raw)
		}
	}
	if a := e.api("GET", "/sites?status=suspended", nil); len(a.items()) != 0 || a.meta("total") != jsonNum(0) {
		t.Errorf("suspended sites = %s, want none", a.raw)
	}
	if a := e.api("GET", "/sites?search=cust_3000&sort=your_customer_id&direction=asc", nil); len(a.items()) != 10 ||
		a.items()[0]["id"] != "30000" {
		t.Errorf("search cust_3000 = %d sites, first %v; want 10 from 30000", len(a.items()), a.items()[0]["id"])
	}
	// meta.links: Previous, the page window, Next.
	a = e.api("GET", "/sites?per_page=2&page=10", nil)
	links := a.meta("links").([]any)
	var labels []string
	for _, l := range links {
		labels = append(labels, l.(map[string]any)["label"].(string))
	}
	want := "&laquo; Previous,1,2,...,7,8,9,10,11,12,13,...,19,20,Next &raquo;"
	if got := strings.Join(labels, ","); got != want {
		t.Errorf("meta.links labels = %s, want %s", got, want)
	}
}

func TestPageWindow(t *testing.T) {
	tests := []struct {
		current, last int
		want          []int
	}{
		{1, 1, []int{1}},
		{5, 13, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{1, 20, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 19, 20}},
		{7, 20, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 19, 20}},
		{8, 20, []int{1, 2, 0, 5, 6, 7, 8, 9, 10, 11, 0, 19, 20}},
		{14, 20, []int{1, 2, 0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
		{20, 20, []int{1, 2, 0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
	}
	for _, tt := range tests {
		if got := pageWindow(tt.current, tt.last); !slices.Equal(got, tt.want) {
			t.Errorf("pageWindow(%d, %d) = %v, want %v", tt.current, tt.last, got, tt.want)
		}
	}
}

func TestSiteRoutesMethods(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.api("POST", "/sites", nil)
	if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET" {
		t.Errorf("POST /sites = %d Allow %q, want 405 Allow GET", a.status, a.header.Get("Allow"))
	}
	if a := e.apiWith("GET", "/sites", nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("GET /sites without a token = %d, want 401", a.status)
	}
	var v struct {
		Data []struct {
			ID           string `json:"id"`
			Environments []struct {
				ID           string `json:"id"`
				IsProduction bool   `json:"is_production"`
			} `json:"environments"`
		} `json:"data"`
	}
	if err := json.Unmarshal(e.api("GET", "/sites", nil).raw, &v); err != nil || len(v.Data) != 2 {
		t.Fatalf("decode GET /sites: %v, %d sites", err, len(v.Data))
	}
	if v.Data[1].ID != "12345" || len(v.Data[1].Environments) != 1 || !v.Data[1].Environments[0].IsProduction {
		t.Errorf("sites = %+v", v.Data)
	}
}
