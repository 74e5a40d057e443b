package vectorsim

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// siteInfo describes a site added with AddSite as the sites and
// environments routes show it. Its fields do not change once set, except
// envs, which grows under Server.mu.
type siteInfo struct {
	id        string
	seq       int // order of addition, across sites and environments
	created   time.Time
	subdomain string // wispy-dust: derived from the id, unique per server
	envs      []*envInfo
}

// envInfo describes one environment of a site.
type envInfo struct {
	id      string
	site    *siteInfo
	seq     int
	created time.Time
	name    string // production, staging, …: unique within the site
}

func (e *envInfo) isProduction() bool { return e.name == "production" }

// Word lists for the subdomains, which Vector derives from two words.
var (
	subdomainAdjectives = []string{"wispy", "amber", "brisk", "calm", "dapper", "eager", "fuzzy", "gentle",
		"hidden", "icy", "jolly", "lucky", "misty", "noble", "olive", "quiet"}
	subdomainNouns = []string{"dust", "river", "meadow", "harbor", "pine", "comet", "ember", "falcon",
		"glade", "island", "lagoon", "maple", "orchid", "pebble", "summit", "willow"}
	// envIDName matches environment ids that read as names (production).
	envIDName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	// envNames are given in order to environments whose ids are not names.
	envNames = []string{"production", "staging", "preview"}
)

// describeSiteLocked records what the sites and environments routes show of
// a site and the environments just added to it. The caller holds s.mu.
func (s *Server) describeSiteLocked(siteID string, envIDs []string) {
	now := s.opts.Now()
	si := s.siteInfo[siteID]
	if si == nil {
		s.infoSeq++
		si = &siteInfo{id: siteID, seq: s.infoSeq, created: now, subdomain: s.subdomainLocked(siteID)}
		s.siteInfo[siteID] = si
		s.subdomains[si.subdomain] = siteID
	}
	for _, id := range envIDs {
		if slices.ContainsFunc(si.envs, func(e *envInfo) bool { return e.id == id }) {
			continue
		}
		s.infoSeq++
		e := &envInfo{id: id, site: si, seq: s.infoSeq, created: now, name: envName(si, id)}
		si.envs = append(si.envs, e)
		if s.envIndex[id] == nil {
			s.envIndex[id] = e
		}
	}
}

// subdomainLocked derives a site's subdomain from its id: two words chosen by
// the id's hash, with a number appended when another site has them. The
// caller holds s.mu.
func (s *Server) subdomainLocked(siteID string) string {
	sum := sha256.Sum256([]byte(siteID))
	h := binary.BigEndian.Uint64(sum[:8])
	base := subdomainAdjectives[h%uint64(len(subdomainAdjectives))] + "-" +
		subdomainNouns[(h>>8)%uint64(len(subdomainNouns))]
	name := base
	for n := 2; s.subdomains[name] != ""; n++ {
		name = base + "-" + strconv.Itoa(n)
	}
	return name
}

// envName names a new environment of si: its id if that reads as a name,
// else the first of production, staging, preview, env-N not yet taken.
func envName(si *siteInfo, id string) string {
	taken := func(n string) bool {
		return slices.ContainsFunc(si.envs, func(e *envInfo) bool { return e.name == n })
	}
	if envIDName.MatchString(id) && !taken(id) {
		return id
	}
	for _, n := range envNames {
		if !taken(n) {
			return n
		}
	}
	for i := len(envNames) + 1; ; i++ {
		if n := "env-" + strconv.Itoa(i); !taken(n) {
			return n
		}
	}
}

// sortableTime formats times so that they sort as strings.
const sortableTime = "2006-01-02T15:04:05.000000000"

const (
	dbHost    = "cluster.vsim01.us-east-1.rds.amazonaws.com"
	devDBHost = "dev-cluster.vsim01.us-east-1.rds.amazonaws.com"
)

func (e *envInfo) short() string {
	if e.isProduction() {
		return "prod"
	}
	return e.name
}

func (e *envInfo) platformDomain() string {
	return e.site.subdomain + "--" + e.short() + ".vectorpages.com"
}

// customDomain is example.com-like: the production environment answers on
// the site's own domain, the others on a subdomain of it.
func (e *envInfo) customDomain() string {
	d := e.site.subdomain + ".example.com"
	if !e.isProduction() {
		d = e.name + "." + d
	}
	return d
}

func (e *envInfo) databaseName() string { return "db_" + e.id }

// lastDeployed is when the site's newest environment was added, or zero.
func (si *siteInfo) lastDeployed() time.Time {
	var t time.Time
	for _, e := range si.envs {
		if e.created.After(t) {
			t = e.created
		}
	}
	return t
}

// updated is when the site last changed: its addition or its newest
// environment's.
func (si *siteInfo) updated() time.Time {
	if t := si.lastDeployed(); t.After(si.created) {
		return t
	}
	return si.created
}

// siteObject renders a site as the OpenAPI examples show it: the list
// example has dev_php_version, dev_sftp and last_deployed_at, the single
// site's example has not. The caller holds s.mu (for si.envs).
func siteObject(si *siteInfo, inList bool) object {
	envs := make([]object, 0, len(si.envs))
	for _, e := range si.envs {
		envs = append(envs, object{
			{"id", e.id},
			{"name", e.name},
			{"is_production", e.isProduction()},
			{"status", "active"},
			{"status_label", "Active"},
			{"php_version", "8.3"},
			{"platform_domain", e.platformDomain()},
			{"custom_domain", e.customDomain()},
			{"custom_domain_certificate_status", "issued"},
			{"dns_status_state", "verified"},
			{"requires_dns_action", false},
			{"created_at", atom(e.created)},
			{"updated_at", atom(e.created)},
		})
	}
	o := object{
		{"id", si.id},
		{"your_customer_id", "cust_" + si.id},
		{"status", "active"},
		{"status_label", "Active"},
	}
	if inList {
		o = append(o, field{"dev_php_version", "8.3"})
	}
	o = append(o,
		field{"tags", []string{}},
		field{"dev_domain", "dev." + si.subdomain + ".vectorpages.com"},
		field{"dev_db_host", devDBHost},
		field{"dev_db_name", "db_" + si.id},
	)
	if inList {
		o = append(o,
			field{"dev_sftp", object{{"hostname", "ssh.vectorpages.com"}, {"port", 22}, {"username", si.subdomain}}},
			field{"last_deployed_at", atom(si.lastDeployed())},
		)
	}
	return append(o,
		field{"environments", envs},
		field{"created_at", atom(si.created)},
		field{"updated_at", atom(si.updated())},
	)
}

// envObject renders an environment as GET /environments and
// /environments/{env} do.
func envObject(e *envInfo) object {
	return object{
		{"id", e.id},
		{"vector_site_id", e.site.id},
		{"your_customer_id", "cust_" + e.site.id},
		{"name", e.name},
		{"is_production", e.isProduction()},
		{"status", "active"},
		{"status_label", "Active"},
		{"provisioning_step", "complete"},
		{"provisioning_step_label", "Complete"},
		{"failure_reason", nil},
		{"php_version", "8.3"},
		{"tags", []string{}},
		{"platform_domain", e.platformDomain()},
		{"custom_domain", e.customDomain()},
		{"dns_target", e.site.subdomain + "-" + e.short() + ".b-cdn.net"},
		{"dns_status", object{{"state", "verified"}, {"records", []any{}}, {"last_checked_at", atom(e.created)}}},
		{"custom_domain_certificate", object{{"status", "issued"}, {"dns_validation_records", nil}}},
		{"subdomain", e.site.subdomain},
		{"database_host", dbHost},
		{"database_name", e.databaseName()},
		{"created_at", atom(e.created)},
		{"updated_at", atom(e.created)},
	}
}

// Valid values of the sites list's filters.
var (
	siteStatuses = []string{"pending", "activation_requested", "active", "suspension_requested",
		"suspended", "unsuspension_requested", "termination_requested", "terminated", "canceled"}
	siteSorts = []string{"created_at", "updated_at", "status", "your_customer_id", "last_deployed_at"}
)

// listSites serves GET /sites: every site is active; search, status, sort
// and direction work as the OpenAPI describes them.
func (s *Server) listSites(c *call) {
	q := c.r.URL.Query()
	errs := map[string][]string{}
	status, sortBy, dir := q.Get("status"), cmp.Or(q.Get("sort"), "created_at"), cmp.Or(q.Get("direction"), "desc")
	if status != "" && !slices.Contains(siteStatuses, status) {
		errs["status"] = []string{"The status must be a valid site status."}
	}
	if !slices.Contains(siteSorts, sortBy) {
		errs["sort"] = []string{"The selected sort is invalid."}
	}
	if dir != "asc" && dir != "desc" {
		errs["direction"] = []string{"The selected direction is invalid."}
	}
	pg, ok := parsePage(q, errs)
	if !ok || len(errs) > 0 {
		c.fail(http.StatusUnprocessableEntity, "Validation failed", errs)
		return
	}
	search := strings.ToLower(q.Get("search"))
	s.mu.Lock()
	var sites []*siteInfo
	for _, si := range s.siteInfo {
		if status != "" && status != "active" {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower("cust_"+si.id), search) &&
			!strings.Contains(si.subdomain, search) {
			continue
		}
		sites = append(sites, si)
	}
	key := func(si *siteInfo) string {
		switch sortBy {
		case "your_customer_id":
			return "cust_" + si.id
		case "updated_at":
			return si.updated().UTC().Format(sortableTime)
		case "last_deployed_at":
			return si.lastDeployed().UTC().Format(sortableTime)
		case "status":
			return "active"
		}
		return si.created.UTC().Format(sortableTime)
	}
	slices.SortFunc(sites, func(a, b *siteInfo) int {
		r := cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.seq, b.seq))
		if dir == "desc" {
			r = -r
		}
		return r
	})
	items := make([]object, 0, pg.size)
	for _, i := range pg.slice(len(sites)) {
		items = append(items, siteObject(sites[i], true))
	}
	s.mu.Unlock()
	c.replyPage(items, len(sites), pg, "sites", "Sites retrieved successfully")
}

// getSite serves GET /sites/{site}.
func (s *Server) getSite(c *call) {
	s.mu.Lock()
	var data object
	if si := s.siteInfo[c.site]; si != nil {
		data = siteObject(si, false)
	}
	s.mu.Unlock()
	if data == nil {
		c.fail(http.StatusNotFound, "Site not found", nil)
		return
	}
	c.reply(http.StatusOK, data, "Site retrieved successfully")
}

// listEnvironments serves GET /environments, optionally for one site (by
// id or subdomain), newest first.
func (s *Server) listEnvironments(c *call) {
	q := c.r.URL.Query()
	errs := map[string][]string{}
	pg, ok := parsePage(q, errs)
	if !ok {
		c.fail(http.StatusUnprocessableEntity, "Validation failed", errs)
		return
	}
	s.mu.Lock()
	var sites []*siteInfo
	if want := q.Get("site"); want != "" {
		si := s.siteInfo[want]
		if si == nil {
			si = s.siteInfo[s.subdomains[want]]
		}
		if si == nil {
			s.mu.Unlock()
			c.fail(http.StatusNotFound, "Site not found", nil)
			return
		}
		sites = []*siteInfo{si}
	} else {
		for _, si := range s.siteInfo {
			sites = append(sites, si)
		}
	}
	var envs []*envInfo
	for _, si := range sites {
		envs = append(envs, si.envs...)
	}
	slices.SortFunc(envs, func(a, b *envInfo) int {
		return -cmp.Or(a.created.Compare(b.created), cmp.Compare(a.seq, b.seq))
	})
	s.mu.Unlock()
	items := make([]object, 0, pg.size)
	for _, i := range pg.slice(len(envs)) {
		items = append(items, envObject(envs[i]))
	}
	c.replyPage(items, len(envs), pg, "environments", "Environments retrieved successfully")
}

// getEnvironment serves GET /environments/{env}.
func (s *Server) getEnvironment(c *call) {
	s.mu.Lock()
	e := s.envIndex[c.env]
	s.mu.Unlock()
	if e == nil {
		c.fail(http.StatusNotFound, "Environment not found", nil)
		return
	}
	c.reply(http.StatusOK, envObject(e), "Environment retrieved successfully")
}

// page is a requested page of a list.
type page struct {
	number, size int
}

const (
	defaultPerPage = 15
	maxPerPage     = 100
)

// parsePage reads page and per_page as Laravel does: per_page is validated
// (an integer from 1 to 100, default 15; errors go to errs and parsePage
// returns false), page falls back to 1 unless it is an integer of at least 1.
func parsePage(q url.Values, errs map[string][]string) (page, bool) {
	pg := page{number: 1, size: defaultPerPage}
	if v := q.Get("page"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			pg.number = n
		}
	}
	if v, ok := q["per_page"]; ok {
		n, err := strconv.Atoi(v[0])
		switch {
		case err != nil:
			errs["per_page"] = []string{"The per page field must be an integer."}
		case n < 1:
			errs["per_page"] = []string{"The per page field must be at least 1."}
		case n > maxPerPage:
			errs["per_page"] = []string{"The per page field must not be greater than 100."}
		default:
			pg.size = n
		}
	}
	return pg, errs["per_page"] == nil
}

// slice returns the indexes of the page's items in a list of total items.
func (pg page) slice(total int) []int {
	if pg.number > (total+pg.size-1)/pg.size { // also guards the product below
		return nil
	}
	var idx []int
	first := (pg.number - 1) * pg.size
	for i := first; i < total && i < first+pg.size; i++ {
		idx = append(idx, i)
	}
	return idx
}

// replyPage writes a Laravel paginated resource collection: data, links
// (first, last, prev, next) and meta (current_page, from, last_page, links,
// path, per_page, to, total). As Laravel's paginator does without
// withQueryString(), the page URLs carry page=N only: neither filters nor
// per_page.
func (c *call) replyPage(items []object, total int, pg page, path, message string) {
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + c.r.Host + apiPrefix + "/" + path
	pageURL := func(n int) any { return base + "?page=" + strconv.Itoa(n) }
	last := max(1, (total+pg.size-1)/pg.size)
	var prev, next any
	if pg.number > 1 {
		prev = pageURL(pg.number - 1)
	}
	if pg.number < last {
		next = pageURL(pg.number + 1)
	}
	var from, to any
	if len(items) > 0 {
		f := (pg.number-1)*pg.size + 1
		from, to = f, f+len(items)-1
	}
	links := []object{{{"url", prev}, {"label", "&laquo; Previous"}, {"active", false}}}
	for _, n := range pageWindow(pg.number, last) {
		if n == 0 {
			links = append(links, object{{"url", nil}, {"label", "..."}, {"active", false}})
			continue
		}
		links = append(links, object{{"url", pageURL(n)}, {"label", strconv.Itoa(n)}, {"active", n == pg.number}})
	}
	links = append(links, object{{"url", next}, {"label", "Next &raquo;"}, {"active", false}})
	c.write(http.StatusOK, object{
		{"data", items},
		{"links", object{{"first", pageURL(1)}, {"last", pageURL(last)}, {"prev", prev}, {"next", next}}},
		{"meta", object{
			{"current_page", pg.number},
			{"from", from},
			{"last_page", last},
			{"links", links},
			{"path", base},
			{"per_page", pg.size},
			{"to", to},
			{"total", total},
		}},
		{"message", message},
		{"http_status", http.StatusOK},
	})
}

// pageWindow returns the page numbers Laravel's UrlWindow (3 on each side)
// lists in meta.links for page current of last; 0 stands for "...".
func pageWindow(current, last int) []int {
	const onEachSide, window = 3, 3 + 4
	span := func(a, b int) []int {
		var r []int
		for i := a; i <= b; i++ {
			r = append(r, i)
		}
		return r
	}
	switch {
	case last < onEachSide*2+8:
		return span(1, last)
	case current <= window:
		return append(span(1, window+onEachSide), append([]int{0}, span(last-1, last)...)...)
	case current > last-window:
		return append(span(1, 2), append([]int{0}, span(last-(window+onEachSide-1), last)...)...)
	}
	r := append(span(1, 2), 0)
	r = append(r, span(current-onEachSide, current+onEachSide)...)
	return append(r, append([]int{0}, span(last-1, last)...)...)
}
