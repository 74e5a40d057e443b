package vectorapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// exampleCalls runs the client call an example file answers, by the
// file's operation prefix.
var exampleCalls = map[string]func(context.Context, *Client, Target) (any, error){
	"export": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.StartExport(ctx, t)
	},
	"export_status": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.ExportStatus(ctx, t, "01jfgxk4nqrst5vwx9yz0abcdg")
	},
	"import_create": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.CreateImportFile(ctx, t, "backup.sql.gz", 52428800)
	},
	"import_run": func(ctx context.Context, c *Client, t Target) (any, error) {
		return nil, c.RunImport(ctx, t, "01jfgxk4nqrst5vwx9yz0abcdh")
	},
	"import_status": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.ImportStatus(ctx, t, "01jfgxk4nqrst5vwx9yz0abcdh")
	},
	"backup_create": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.CreateBackup(ctx, t, "Pre-deployment backup")
	},
	"backup_list": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.ListBackups(ctx, t)
	},
	"backup_status": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.Backup(ctx, "01jfgxk4nqrst5vwx9yz0abcdg")
	},
	"backup_download_create": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.CreateBackupDownload(ctx, "01jfgxk4nqrst5vwx9yz0abcdg")
	},
	"backup_download_status": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.BackupDownload(ctx, "01jfgxk4nqrst5vwx9yz0abcdg", "01jfgxk4nqrst5vwx9yz0abcdh")
	},
	// The sites example embeds each site's environments: no /environments.
	"sites": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.Sites(ctx)
	},
	// The fake's /sites answers a site without its environments, which
	// Sites then reads from the environments example.
	"environments": func(ctx context.Context, c *Client, t Target) (any, error) {
		return c.Sites(ctx)
	},
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// exampleCases says what the client makes of every file in testdata.
var exampleCases = map[string]struct {
	want    any
	wantIs  error
	wantErr string // the whole Error() text, or a part of it for wantIs
}{
	"openapi/export_202.json": {want: Export{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "pending"}},
	"openapi/export_401.json": {wantIs: ErrUnauthorized, wantErr: "start export: the API token was rejected (HTTP 401): check api.token"},
	"openapi/export_403.json": {wantIs: ErrUnauthorized, wantErr: "start export: the API token was rejected (HTTP 403): check api.token"},
	"openapi/export_404.json": {wantIs: ErrNotFound, wantErr: "start export: HTTP 404: Site not found"},
	"openapi/export_422.json": {wantErr: "start export: HTTP 422: Validation failed (format: The selected format is invalid.)"},
	"openapi/export_status_200_completed.json": {want: Export{
		ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "completed",
		DownloadURL: "https://s3.amazonaws.com/bucket/exports/01jfgxk4nqrst5vwx9yz0abcdg.sql?X-Amz-Expires=3600",
		ExpiresAt:   utc("2025-01-15T13:00:00Z"), SizeBytes: 52428800,
	}},
	"openapi/export_status_200_processing.json": {want: Export{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "processing"}},
	"openapi/export_status_401.json":            {wantIs: ErrUnauthorized, wantErr: "export status: the API token was rejected (HTTP 401): check api.token"},
	"openapi/export_status_403.json":            {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/export_status_404.json":            {wantIs: ErrNotFound, wantErr: "export status: HTTP 404: Export not found"},
	"openapi/import_create_201_created_single_upload.json": {want: ImportSession{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", UploadURL: "https://s3.amazonaws.com/bucket/imports/...",
		ExpiresAt: utc("2025-01-16T12:00:00Z"), ContentLength: 52428800,
	}},
	"openapi/import_create_201_created_multipart_upload.json": {want: ImportSession{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", ExpiresAt: utc("2025-01-16T12:00:00Z"),
		Multipart: true, UploadID: "abc123", PartCount: 30, ContentLength: 161061273600,
		Parts: []UploadPart{{Number: 1, URL: "https://s3.amazonaws.com/..."}},
	}},
	"openapi/import_create_401.json":               {wantIs: ErrUnauthorized, wantErr: "(HTTP 401)"},
	"openapi/import_create_403.json":               {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/import_create_404.json":               {wantIs: ErrNotFound, wantErr: "create import: HTTP 404: Site not found"},
	"openapi/import_create_422.json":               {wantErr: "create import: HTTP 422: Validation failed (site: Site must be in active state to import.)"},
	"openapi/import_run_202.json":                  {},
	"openapi/import_run_401.json":                  {wantIs: ErrUnauthorized, wantErr: "(HTTP 401)"},
	"openapi/import_run_403.json":                  {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/import_run_404.json":                  {wantIs: ErrNotFound, wantErr: "run import: HTTP 404: Import not found"},
	"openapi/import_run_422_expired.json":          {wantErr: "run import: HTTP 422: Import session has expired (expires_at: Please create a new import session)"},
	"openapi/import_run_422_multipart_failed.json": {wantErr: "run import: HTTP 422: Failed to finalize upload (parts: Failed to complete multipart upload)"},
	"openapi/import_run_422_not_ready.json":        {wantErr: "run import: HTTP 422: Import is not ready to run (status: Import must be in pending or uploaded status)"},
	"openapi/import_status_200_completed.json": {want: Import{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", Status: "completed",
		StartedAt: utc("2025-01-15T12:00:02Z"), CompletedAt: utc("2025-01-15T12:00:32Z"),
	}},
	"openapi/import_status_200_pending.json": {want: Import{ID: "01jfgxk4nqrst5vwx9yz0abcdh", Status: "pending"}},
	"openapi/import_status_401.json":         {wantIs: ErrUnauthorized, wantErr: "(HTTP 401)"},
	"openapi/import_status_403.json":         {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/import_status_404.json":         {wantIs: ErrNotFound, wantErr: "import status: HTTP 404: Import not found"},

	"openapi/backup_create_202.json": {want: Backup{
		// The example answers scope "full" to whatever was asked.
		ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "pending", Scope: "full", Type: "manual",
		SiteID: "01jfgxk4nqrst5vwx9yz0abcde", Description: "Pre-deployment backup", SizeBytes: -1,
		CreatedAt: utc("2025-01-15T12:00:00Z"),
	}},
	"openapi/backup_create_401.json": {wantIs: ErrUnauthorized, wantErr: "create backup: the API token was rejected (HTTP 401)"},
	"openapi/backup_create_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/backup_create_422.json": {wantErr: "create backup: HTTP 422: Validation failed (site_id: Either a site ID or environment ID is required.)"},
	"openapi/backup_list_200.json": {want: []Backup{{
		ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "completed", Scope: "full", Type: "manual",
		SiteID: "01jfgxk4nqrst5vwx9yz0abcde", Description: "Pre-deployment backup", SizeBytes: -1,
		CreatedAt: utc("2025-01-15T12:00:00Z"), CompletedAt: utc("2025-01-15T12:00:00Z"),
	}}},
	"openapi/backup_list_401.json": {wantIs: ErrUnauthorized, wantErr: "list backups: the API token was rejected (HTTP 401)"},
	"openapi/backup_list_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/backup_status_200.json": {want: Backup{
		ID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "completed", Scope: "full", Type: "manual",
		SiteID: "01jfgxk4nqrst5vwx9yz0abcde", Description: "Pre-deployment backup", SizeBytes: -1,
		CreatedAt: utc("2025-01-15T12:00:00Z"), CompletedAt: utc("2025-01-15T12:00:00Z"),
	}},
	"openapi/backup_status_401.json": {wantIs: ErrUnauthorized, wantErr: "backup status: the API token was rejected (HTTP 401)"},
	"openapi/backup_status_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/backup_status_404.json": {wantIs: ErrNotFound, wantErr: "backup status: HTTP 404: Backup not found"},
	"openapi/backup_download_create_202.json": {want: BackupDownload{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", BackupID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "pending", SizeBytes: -1,
	}},
	"openapi/backup_download_create_401.json": {wantIs: ErrUnauthorized, wantErr: "create backup download: the API token was rejected (HTTP 401)"},
	"openapi/backup_download_create_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/backup_download_create_404.json": {wantIs: ErrNotFound, wantErr: "create backup download: HTTP 404: Backup not found"},
	"openapi/backup_download_status_200_completed.json": {want: BackupDownload{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", BackupID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "completed",
		DownloadURL: "https://s3.amazonaws.com/bucket/backups/downloads/01jfgxk4nqrst5vwx9yz0abcdh.tar.gz?presigned=...",
		ExpiresAt:   utc("2025-01-15T12:00:00Z"), SizeBytes: 52428800,
	}},
	"openapi/backup_download_status_200_pending.json": {want: BackupDownload{
		ID: "01jfgxk4nqrst5vwx9yz0abcdh", BackupID: "01jfgxk4nqrst5vwx9yz0abcdg", Status: "processing", SizeBytes: -1,
	}},
	"openapi/backup_download_status_401.json": {wantIs: ErrUnauthorized, wantErr: "backup download status: the API token was rejected (HTTP 401)"},
	"openapi/backup_download_status_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/backup_download_status_404.json": {wantIs: ErrNotFound, wantErr: "backup download status: HTTP 404: Backup download not found"},
	"openapi/sites_200.json": {want: []Site{{
		ID: "01jfgxk4nqrst5vwx9yz0abcde", Name: "cust_12345", Domain: "dev.wispy-dust.vectorpages.com",
		Environments: []Environment{{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Name: "production", SiteID: "01jfgxk4nqrst5vwx9yz0abcde"}},
	}}},
	"openapi/sites_401.json": {wantIs: ErrUnauthorized, wantErr: "list sites: the API token was rejected (HTTP 401)"},
	"openapi/sites_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/sites_422.json": {wantErr: "list sites: HTTP 422: Validation failed (status: The status must be a valid site status.)"},
	"openapi/environments_200.json": {want: []Site{{
		ID: "01jfgxk4nqrst5vwx9yz0abcde", Name: "cust_12345",
		Environments: []Environment{{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Name: "production", SiteID: "01jfgxk4nqrst5vwx9yz0abcde"}},
	}}},
	"openapi/environments_401.json": {wantIs: ErrUnauthorized, wantErr: "list environments: the API token was rejected (HTTP 401)"},
	"openapi/environments_403.json": {wantIs: ErrUnauthorized, wantErr: "(HTTP 403)"},
	"openapi/environments_404.json": {wantIs: ErrNotFound, wantErr: "list environments: HTTP 404: Site not found"},

	"documented/export_202.json": {want: Export{ID: "exp_xyz789", Status: "pending"}},
	"documented/export_status_200_completed.json": {want: Export{
		ID: "exp_xyz789", Status: "completed", DownloadURL: "https://s3.amazonaws.com/...",
		ExpiresAt: utc("2026-01-24T13:00:00Z"),
	}},
	"documented/import_create_200.json": {want: ImportSession{
		ID: "imp_abc123", UploadURL: "https://s3.amazonaws.com/...", ExpiresAt: utc("2026-01-24T12:00:00Z"),
	}},
	"documented/import_status_200_completed.json": {want: Import{
		ID: "imp_abc123", Status: "completed",
		StartedAt: utc("2026-01-24T11:45:00Z"), CompletedAt: utc("2026-01-24T11:46:30Z"),
	}},
}

var exampleName = regexp.MustCompile(`^([a-z_]+?)_(\d{3})(_[a-z_]+)?\.json$`)

// TestExamples serves every example response of the API's OpenAPI
// description and of the documentation page, and checks what the client
// makes of it.
func TestExamples(t *testing.T) {
	for file, tc := range exampleCases {
		t.Run(file, func(t *testing.T) {
			dir, base := filepath.Split(file)
			m := exampleName.FindStringSubmatch(base)
			if m == nil {
				t.Fatalf("cannot read operation and status from %s", base)
			}
			op, status := m[1], m[2]
			code, _ := strconv.Atoi(status)
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			routes := RoutesOpenAPI
			if strings.HasPrefix(dir, "documented") {
				routes = RoutesDocumented
			}
			api := newFakeAPI(t)
			api.queue(op, fault{status: code, body: string(body), header: map[string]string{"Content-Type": "application/json"}})
			c := api.client(t, func(o *Options) { o.Routes = routes })

			got, err := exampleCalls[op](t.Context(), c, Target{SiteID: "01jfgxk4nqrst5vwx9yz0abcde"})
			if n := len(api.served(op)); n != 1 {
				t.Errorf("%s was requested %d times, want 1", op, n)
			}
			if tc.wantErr == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if tc.want != nil {
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("%s (-want +got):\n%s", op, diff)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("%s = %+v, want an error", op, got)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("%s error %q does not match %v", op, err, tc.wantIs)
			}
			if tc.wantIs == nil && err.Error() != tc.wantErr {
				t.Errorf("%s error = %q, want %q", op, err, tc.wantErr)
			}
			if tc.wantIs != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s error = %q, want it to contain %q", op, err, tc.wantErr)
			}
			if errors.Is(tc.wantIs, ErrUnauthorized) && errors.Is(err, ErrExportUncertain) {
				t.Errorf("%s: a refused token is not an uncertain request: %v", op, err)
			}
		})
	}
}

// TestExamplesAllCovered keeps TestExamples in step with testdata.
func TestExamplesAllCovered(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(exampleCases) {
		t.Errorf("testdata holds %d examples, the table %d", len(files), len(exampleCases))
	}
	for _, f := range files {
		rel, _ := filepath.Rel("testdata", f)
		if _, ok := exampleCases[filepath.ToSlash(rel)]; !ok {
			t.Errorf("example %s has no case in exampleCases", rel)
		}
	}
}
