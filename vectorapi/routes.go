package vectorapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// operation names an API call; its string is the label passed to
// Options.Observe.
type operation string

const (
	opExport       operation = "export"
	opExportStatus operation = "export_status"
	opImportCreate operation = "import_create"
	opImportRun    operation = "import_run"
	opImportStatus operation = "import_status"
	opImportDirect operation = "import_direct"
	// Platform backups and their downloads (CONTRACT §9), and the account's
	// sites and environments: routes of the account, not of one database.
	opBackupCreate         operation = "backup_create"
	opBackupStatus         operation = "backup_status"
	opBackupList           operation = "backup_list"
	opBackupDownloadCreate operation = "backup_download_create"
	opBackupDownloadStatus operation = "backup_download_status"
	opSites                operation = "sites"
	opEnvironments         operation = "environments"
	// Probe's requests (export-status routes of both sets, and a token
	// check), observed under one name.
	opProbe operation = "probe"
	// Not API routes: requests to presigned URLs.
	opImportUpload operation = "import_upload"
	opDownload     operation = "download"
)

// dbOperation reports whether the operation spends the account's
// database-operation budget (CONTRACT §1, §6, §9): export and import
// requests, and the creation of a platform backup.
func (op operation) dbOperation() bool {
	return op == opExport || op == opImportCreate || op == opImportDirect || op == opBackupCreate
}

// route is one operation's method and path templates. Templates hold
// {site}, {env}, {id} and {download}; an empty template means the route
// set has no such route. Account routes (backups, sites, environments)
// name no database: their one template is dev, used for every Target.
type route struct {
	method string
	dev    string // a site's development database
	env    string // one of the site's environments
	// sendsSize: the create-import request carries a JSON body with the
	// dump's scope, filename and content_length.
	sendsSize bool
}

// accountRoutes are served at the same paths under both route sets: the
// Backups API (CONTRACT §9) and the account's sites and environments.
func accountRoutes() map[operation]route {
	return map[operation]route{
		opBackupCreate:         {method: http.MethodPost, dev: "/backups"},
		opBackupList:           {method: http.MethodGet, dev: "/backups"},
		opBackupStatus:         {method: http.MethodGet, dev: "/backups/{id}"},
		opBackupDownloadCreate: {method: http.MethodPost, dev: "/backups/{id}/downloads"},
		opBackupDownloadStatus: {method: http.MethodGet, dev: "/backups/{id}/downloads/{download}"},
		opSites:                {method: http.MethodGet, dev: "/sites"},
		opEnvironments:         {method: http.MethodGet, dev: "/environments"},
	}
}

// routeTable returns the routes of a route set (CONTRACT §1), or false for
// an unknown set. It builds a fresh table so that no state is shared.
func routeTable(set string) (map[operation]route, bool) {
	var table map[operation]route
	switch set {
	case RoutesDocumented:
		table = map[operation]route{
			opExport: {method: http.MethodPost,
				dev: "/sites/{site}/database/export",
				env: "/sites/{site}/environments/{env}/database/export"},
			opExportStatus: {method: http.MethodGet,
				dev: "/sites/{site}/database/export/{id}",
				env: "/sites/{site}/environments/{env}/database/export/{id}"},
			opImportCreate: {method: http.MethodPost,
				dev: "/sites/{site}/database/import",
				env: "/sites/{site}/environments/{env}/database/import"},
			opImportRun: {method: http.MethodPost,
				dev: "/sites/{site}/database/import/{id}/run",
				env: "/sites/{site}/environments/{env}/database/import/{id}/run"},
			opImportStatus: {method: http.MethodGet,
				dev: "/sites/{site}/database/import/{id}",
				env: "/sites/{site}/environments/{env}/database/import/{id}"},
			// The documentation describes direct import for the
			// development database only.
			opImportDirect: {method: http.MethodPost,
				dev: "/sites/{site}/database/import-direct"},
		}
	case RoutesOpenAPI:
		table = map[operation]route{
			opExport:       {method: http.MethodPost, dev: "/sites/{site}/db/export"},
			opExportStatus: {method: http.MethodGet, dev: "/sites/{site}/db/exports/{id}"},
			opImportCreate: {method: http.MethodPost, dev: "/sites/{site}/imports", sendsSize: true},
			opImportRun:    {method: http.MethodPost, dev: "/sites/{site}/imports/{id}/run"},
			opImportStatus: {method: http.MethodGet, dev: "/sites/{site}/imports/{id}"},
			opImportDirect: {method: http.MethodPost}, // none
		}
	default:
		return nil, false
	}
	for op, r := range accountRoutes() {
		table[op] = r
	}
	return table, true
}

// path expands the operation's template for t and id, escaping each
// segment. It returns an error matching ErrUnsupported when the route set
// has no such route.
func (c *Client) path(op operation, t Target, id string) (method, path string, err error) {
	return expandRoute(c.routeSet, op, c.routes[op], t, id)
}

// expandRoute is path for any route set's route.
func expandRoute(set string, op operation, r route, t Target, id string) (method, path string, err error) {
	tmpl := r.dev
	if t.EnvironmentID != "" {
		tmpl = r.env
	}
	switch {
	case r.dev == "" && r.env == "":
		return "", "", fmt.Errorf("the %s routes have no %s: %w", set, op.describe(), ErrUnsupported)
	case tmpl == "" && op == opImportDirect:
		return "", "", fmt.Errorf("environment %q: direct import reaches a site's development database only (use an import session): %w", t.EnvironmentID, ErrUnsupported)
	case tmpl == "":
		return "", "", fmt.Errorf("environment %q: the %s routes reach no environment databases: %w", t.EnvironmentID, set, ErrUnsupported)
	}
	if err := checkSegment("site id", t.SiteID); err != nil {
		return "", "", err
	}
	if t.EnvironmentID != "" {
		if err := checkSegment("environment id", t.EnvironmentID); err != nil {
			return "", "", err
		}
	}
	if strings.Contains(tmpl, "{id}") {
		if err := checkSegment(op.idName(), id); err != nil {
			return "", "", err
		}
	}
	p := strings.NewReplacer(
		"{site}", url.PathEscape(t.SiteID),
		"{env}", url.PathEscape(t.EnvironmentID),
		"{id}", url.PathEscape(id),
	).Replace(tmpl)
	return r.method, p, nil
}

// accountPath expands an account route (backups, sites, environments) for
// a backup id and a download id, escaping each, and appends query (if
// any). It returns an error matching ErrUnsupported when the route set has
// no such route.
func (c *Client) accountPath(op operation, id, download string, query url.Values) (method, path string, err error) {
	r := c.routes[op]
	if r.dev == "" {
		return "", "", fmt.Errorf("the %s routes have no %s: %w", c.routeSet, op.describe(), ErrUnsupported)
	}
	if strings.Contains(r.dev, "{id}") {
		if err := checkSegment(op.idName(), id); err != nil {
			return "", "", err
		}
	}
	if strings.Contains(r.dev, "{download}") {
		if err := checkSegment("download id", download); err != nil {
			return "", "", err
		}
	}
	p := strings.NewReplacer(
		"{id}", url.PathEscape(id),
		"{download}", url.PathEscape(download),
	).Replace(r.dev)
	if len(query) > 0 {
		p += "?" + query.Encode()
	}
	return r.method, p, nil
}

// checkSegment refuses values that cannot be a path segment.
func checkSegment(name, v string) error {
	switch v {
	case "":
		return fmt.Errorf("%s is empty", name)
	case ".", "..":
		return fmt.Errorf("%s %q is not a valid id", name, v)
	}
	return nil
}

// describe is the operation as error messages name it.
func (op operation) describe() string {
	switch op {
	case opExport:
		return "start export"
	case opExportStatus:
		return "export status"
	case opImportCreate:
		return "create import"
	case opImportRun:
		return "run import"
	case opImportStatus:
		return "import status"
	case opImportDirect:
		return "direct import"
	case opImportUpload:
		return "upload"
	case opDownload:
		return "download"
	case opBackupCreate:
		return "create backup"
	case opBackupStatus:
		return "backup status"
	case opBackupList:
		return "list backups"
	case opBackupDownloadCreate:
		return "create backup download"
	case opBackupDownloadStatus:
		return "backup download status"
	case opSites:
		return "list sites"
	case opEnvironments:
		return "list environments"
	case opProbe:
		return "probe"
	}
	return string(op)
}

func (op operation) idName() string {
	switch op {
	case opExportStatus:
		return "export id"
	case opBackupStatus, opBackupDownloadCreate, opBackupDownloadStatus:
		return "backup id"
	}
	return "import id"
}
