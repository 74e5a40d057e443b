package restore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
	"github.com/google/go-cmp/cmp"
)

// TestImport runs whole imports against the simulator: the database gets
// exactly the SQL sent, through a direct import or a session as the target,
// the route set and the size decide, after the snapshot.
func TestImport(t *testing.T) {
	tests := []struct {
		name       string
		routes     string
		env        string
		size       int64
		limit      int64
		file       bool // read the dump from a file on disk (seekable)
		wantDirect bool
	}{
		{name: "documented development, small", routes: vectorapi.RoutesDocumented, size: 200 << 10, wantDirect: true},
		{name: "documented development, direct disabled", routes: vectorapi.RoutesDocumented, size: 200 << 10, limit: -1},
		{name: "documented development, over the limit", routes: vectorapi.RoutesDocumented, size: 200 << 10, limit: 100 << 10},
		{name: "documented development, just over 10 MB", routes: vectorapi.RoutesDocumented, size: vectorapi.DirectImportMaxBytes + 1},
		{name: "documented environment, small", routes: vectorapi.RoutesDocumented, env: envID, size: 200 << 10},
		{name: "documented environment, file", routes: vectorapi.RoutesDocumented, env: envID, size: 300 << 10, file: true},
		{name: "openapi development, small", routes: vectorapi.RoutesOpenAPI, size: 200 << 10},
		{name: "openapi development, file", routes: vectorapi.RoutesOpenAPI, size: 300 << 10, file: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.routes, vectorsim.Options{})
			data := sqlDump(t, tt.name, tt.size)
			src := newMemSource(data).Source("acme.sql")
			if tt.file {
				src = fileSource(t, data)
			}
			res, err := h.im.Import(t.Context(), target(tt.env), src, restore.Options{DirectLimit: tt.limit})
			if err != nil {
				t.Fatalf("Import() = %v", err)
			}
			got := h.imported(tt.env)
			if got.Count != 1 || got.LastSize != tt.size || got.LastSHA256 != sha(data) {
				t.Errorf("the database received %+v, want 1 import of %d bytes with SHA-256 %s", got, tt.size, sha(data))
			}
			if res.ImportID == "" || res.Bytes != tt.size || res.SHA256 != sha(data) || res.Direct != tt.wantDirect || res.SnapshotID != h.snap.id {
				t.Errorf("Import() = %+v, want an import id, %d bytes, SHA-256 %s, direct %v, snapshot %s", res, tt.size, sha(data), tt.wantDirect, h.snap.id)
			}
			st := h.sim.Stats()
			wantUploads := 1
			if tt.wantDirect {
				wantUploads = 0
			}
			if st.Uploads != wantUploads || st.DBOperations != 1 || st.AuthOnPresigned != 0 {
				t.Errorf("simulator saw %d uploads, %d database operations, %d presigned requests with Authorization; want %d, 1, 0",
					st.Uploads, st.DBOperations, st.AuthOnPresigned, wantUploads)
			}
			if st.ImportStatusQueries == 0 {
				t.Errorf("Import() returned without polling the import's status")
			}
			env := target(tt.env).Environment
			want := []snapCall{{site: "acme", env: env, reason: "before importing " + src.Name, apiRequests: 0}}
			if diff := cmp.Diff(want, h.snap.Calls(), cmp.AllowUnexported(snapCall{})); diff != "" {
				t.Errorf("snapshot calls (-want +got):\n%s", diff)
			}
		})
	}
}

// fileSource writes data to a file and returns it as a Source the way
// `vectord import FILE` would.
func fileSource(t *testing.T, data []byte) restore.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site-export.sql")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return restore.Source{Name: path, Size: int64(len(data)),
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
}

func TestImportSnapshotOptions(t *testing.T) {
	t.Run("reason", func(t *testing.T) {
		h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
		src := newMemSource(sqlDump(t, "reason", 8<<10)).Source("dump.sql")
		if _, err := h.im.Import(t.Context(), target(""), src, restore.Options{Reason: "restore 01JABC"}); err != nil {
			t.Fatal(err)
		}
		if calls := h.snap.Calls(); len(calls) != 1 || calls[0].reason != "restore 01JABC" {
			t.Errorf("snapshot calls = %+v, want one with reason %q", calls, "restore 01JABC")
		}
	})
	t.Run("no snapshot", func(t *testing.T) {
		h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
		h.im.Snapshot = nil
		data := sqlDump(t, "nosnap", 8<<10)
		res, err := h.im.Import(t.Context(), target(""), newMemSource(data).Source("dump.sql"), restore.Options{NoSnapshot: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.SnapshotID != "" || h.imported("").LastSHA256 != sha(data) {
			t.Errorf("Import(NoSnapshot) = %+v, database got %+v; want no snapshot id and the dump imported", res, h.imported(""))
		}
	})
}

// TestImportSnapshotFails: without its snapshot, an import never starts.
func TestImportSnapshotFails(t *testing.T) {
	for _, routes := range []string{vectorapi.RoutesDocumented, vectorapi.RoutesOpenAPI} {
		t.Run(routes, func(t *testing.T) {
			h := newHarness(t, routes, vectorsim.Options{})
			h.snap.err = errors.New("export failed: Database export failed: disk full")
			src := newMemSource(sqlDump(t, "snapfail", 8<<10))
			_, err := h.im.Import(t.Context(), target(""), src.Source("dump.sql"), restore.Options{})
			if !errors.Is(err, restore.ErrSnapshot) || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "not started") {
				t.Errorf("Import() = %v, want ErrSnapshot saying the import was not started, with the snapshot's cause", err)
			}
			// The dump is opened once, to check it before the snapshot.
			if st := h.sim.Stats(); st.APIRequests != 0 || src.opens.Load() != 1 {
				t.Errorf("after a failed snapshot: %d API requests, dump opened %d times; want none, and one open to check it", st.APIRequests, src.opens.Load())
			}
		})
	}
}

// TestImportUploadURLExpired: an upload URL that expired before the upload
// costs one new session; a second expiry is an error.
func TestImportUploadURLExpired(t *testing.T) {
	for _, routes := range []string{vectorapi.RoutesDocumented, vectorapi.RoutesOpenAPI} {
		t.Run(routes, func(t *testing.T) {
			h := newHarness(t, routes, vectorsim.Options{URLTTL: time.Minute})
			data := sqlDump(t, "expired", 64<<10)
			src := newMemSource(data)
			// The first upload (the second open, after the check before
			// the snapshot) starts after its URL expired.
			src.onOpen = func(n int) {
				if n == 2 {
					h.clock.Advance(2 * time.Minute)
				}
			}
			res, err := h.im.Import(t.Context(), target(""), src.Source("dump.sql"), restore.Options{DirectLimit: -1})
			if err != nil {
				t.Fatalf("Import() = %v", err)
			}
			if got := h.imported(""); got.Count != 1 || got.LastSHA256 != sha(data) || res.SHA256 != sha(data) {
				t.Errorf("database got %+v, result %+v; want the dump imported once", got, res)
			}
			if st := h.sim.Stats(); st.DBOperations != 2 || st.Uploads != 1 || src.opens.Load() != 3 {
				t.Errorf("%d sessions, %d uploads stored, dump opened %d times; want 2, 1, 3", st.DBOperations, st.Uploads, src.opens.Load())
			}
			if !strings.Contains(h.logs.String(), "upload url expired") {
				t.Errorf("no warning logged about the expired upload URL; logs:\n%s", h.logs)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{URLTTL: time.Minute})
		src := newMemSource(sqlDump(t, "expired", 64<<10))
		src.onOpen = func(int) { h.clock.Advance(2 * time.Minute) }
		_, err := h.im.Import(t.Context(), target(envID), src.Source("dump.sql"), restore.Options{})
		if !errors.Is(err, vectorapi.ErrURLExpired) {
			t.Errorf("Import() = %v, want an error matching ErrURLExpired", err)
		}
		if st := h.sim.Stats(); st.DBOperations != 2 || h.imported(envID).Count != 0 {
			t.Errorf("%d sessions, %d imports; want 2 sessions and no import", st.DBOperations, h.imported(envID).Count)
		}
	})
}

// TestImportFailed: the API's reason reaches the user.
func TestImportFailed(t *testing.T) {
	const msg = "ERROR 1064 (42000) at line 31: You have an error in your SQL syntax"
	tests := []struct {
		name   string
		routes string
		limit  int64
	}{
		{"direct", vectorapi.RoutesDocumented, 0},
		{"documented session", vectorapi.RoutesDocumented, -1},
		{"openapi session", vectorapi.RoutesOpenAPI, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.routes, vectorsim.Options{})
			h.sim.SetFaults(siteID, vectorsim.Faults{ImportFail: msg})
			_, err := h.im.Import(t.Context(), target(""), newMemSource(sqlDump(t, "fail", 16<<10)).Source("dump.sql"), restore.Options{DirectLimit: tt.limit})
			if !errors.Is(err, restore.ErrImportFailed) || !strings.Contains(err.Error(), msg) {
				t.Errorf("Import() = %v, want ErrImportFailed with the API's message %q", err, msg)
			}
		})
	}
}

// TestImportChecksDump: a dump that is not what it claims to be is never
// imported.
func TestImportChecksDump(t *testing.T) {
	good := sqlDump(t, "check", 32<<10)
	truncated := good[:len(good)-200]
	tests := []struct {
		name    string
		data    []byte
		size    int64
		sha     string
		wantErr string
	}{
		{name: "checksum mismatch", data: good, size: int64(len(good)), sha: sha(append([]byte("x"), good...)), wantErr: "SHA-256"},
		{name: "longer than its size", data: good, size: int64(len(good)) - 10, wantErr: "longer than its size"},
		{name: "shorter than its size", data: good, size: int64(len(good)) + 10, wantErr: "ended after"},
		{name: "cut short", data: truncated, size: int64(len(truncated)), wantErr: "incomplete"},
	}
	for _, tt := range tests {
		for _, limit := range []int64{0, -1} {
			t.Run(fmt.Sprintf("%s, direct limit %d", tt.name, limit), func(t *testing.T) {
				h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
				api := &countingAPI{API: h.client}
				h.im.API = api
				src := newMemSource(tt.data).Source("dump.sql")
				src.Size, src.SHA256 = tt.size, tt.sha
				_, err := h.im.Import(t.Context(), target(""), src, restore.Options{DirectLimit: limit})
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Import() = %v, want an error about %q", err, tt.wantErr)
				}
				if _, _, runs, directs := api.counts(); runs != 0 || directs != 0 || h.imported("").Count != 0 {
					t.Errorf("%d runs, %d direct imports, %d imports; want none", runs, directs, h.imported("").Count)
				}
			})
		}
	}
	t.Run("good checksum", func(t *testing.T) {
		h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
		src := newMemSource(good).Source("dump.sql")
		src.SHA256 = strings.ToUpper(sha(good))
		if _, err := h.im.Import(t.Context(), target(""), src, restore.Options{DirectLimit: -1}); err != nil {
			t.Errorf("Import() = %v, want success", err)
		}
	})
}

// TestImportSourceError: an error the dump's reader reports at its end
// (its own checksum check) stops the import before it runs.
func TestImportSourceError(t *testing.T) {
	h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
	api := &countingAPI{API: h.client}
	h.im.API = api
	data := sqlDump(t, "srcerr", 32<<10)
	bad := errors.New("backup 01JX is corrupt")
	src := restore.Source{Name: "backup 01JX", Size: int64(len(data)), Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader(string(data)), errReader{bad})), nil
	}}
	_, err := h.im.Import(t.Context(), target(""), src, restore.Options{DirectLimit: -1})
	if !errors.Is(err, bad) {
		t.Errorf("Import() = %v, want the reader's error", err)
	}
	if _, uploads, runs, _ := api.counts(); uploads != 1 || runs != 0 {
		t.Errorf("%d uploads, %d runs; want the upload and no run", uploads, runs)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestImportRefused(t *testing.T) {
	good := newMemSource(sqlDump(t, "refused", 8<<10))
	tests := []struct {
		name    string
		routes  string
		target  restore.Target
		src     restore.Source
		noSnap  bool
		is      error
		wantErr string
	}{
		{name: "environment under openapi routes", routes: vectorapi.RoutesOpenAPI, target: target(envID), src: good.Source("d.sql"), is: vectorapi.ErrUnsupported},
		{name: "no site id", routes: vectorapi.RoutesDocumented, target: restore.Target{Site: "acme", Environment: "development"}, src: good.Source("d.sql"), wantErr: "site id"},
		{name: "empty dump", routes: vectorapi.RoutesDocumented, target: target(""), src: restore.Source{Name: "e.sql", Open: good.open}, wantErr: "empty"},
		{name: "unknown size", routes: vectorapi.RoutesDocumented, target: target(""), src: restore.Source{Name: "u.sql", Size: -1, Open: good.open}, wantErr: "size is unknown"},
		{name: "bad checksum", routes: vectorapi.RoutesDocumented, target: target(""), src: restore.Source{Name: "c.sql", Size: 10, SHA256: "abc", Open: good.open}, wantErr: "64 hex digits"},
		{name: "no snapshotter", routes: vectorapi.RoutesDocumented, target: target(""), src: good.Source("d.sql"), noSnap: true, wantErr: "snapshotter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.routes, vectorsim.Options{})
			if tt.noSnap {
				h.im.Snapshot = nil
			}
			_, err := h.im.Import(t.Context(), tt.target, tt.src, restore.Options{})
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Import() = %v, want an error matching %v containing %q", err, tt.is, tt.wantErr)
			}
			if len(h.snap.Calls()) != 0 || h.sim.Stats().APIRequests != 0 {
				t.Errorf("a refused import took a snapshot or sent a request")
			}
		})
	}
}

// TestImportTimeout: an import that does not finish in Timeout is reported
// as still running, not as failed.
func TestImportTimeout(t *testing.T) {
	h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{ProcessingTime: time.Hour})
	h.im.Timeout = 30 * time.Millisecond
	_, err := h.im.Import(t.Context(), target(""), newMemSource(sqlDump(t, "slow", 8<<10)).Source("dump.sql"), restore.Options{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still processing") || errors.Is(err, restore.ErrImportFailed) {
		t.Errorf("Import() = %v, want a deadline error saying the import is still processing", err)
	}
}

// TestImportCanceled: canceling while the import runs returns promptly.
func TestImportCanceled(t *testing.T) {
	h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{ProcessingTime: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	h.im.Progress = func(p restore.Progress) {
		if p.Phase == restore.PhaseImporting {
			cancel()
		}
	}
	_, err := h.im.Import(ctx, target(""), newMemSource(sqlDump(t, "cancel", 8<<10)).Source("dump.sql"), restore.Options{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "may still complete") {
		t.Errorf("Import() = %v, want context.Canceled saying the API may still complete the import", err)
	}
}

// TestImportRunAnswerLost: when the run request's answer is lost, the import
// goes on if the API shows it running, and otherwise stops without sending
// the run again.
func TestImportRunAnswerLost(t *testing.T) {
	lost := fmt.Errorf("run import: connection reset: %w", vectorapi.ErrExportUncertain)
	for _, ran := range []bool{true, false} {
		t.Run(fmt.Sprintf("ran %v", ran), func(t *testing.T) {
			h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
			api := &countingAPI{API: h.client, runErr: lost, skipRun: !ran}
			h.im.API = api
			data := sqlDump(t, "lost", 16<<10)
			res, err := h.im.Import(t.Context(), target(envID), newMemSource(data).Source("dump.sql"), restore.Options{})
			_, _, runs, _ := api.counts()
			switch {
			case runs != 1:
				t.Errorf("%d run requests, want 1", runs)
			case ran && (err != nil || h.imported(envID).LastSHA256 != sha(data)):
				t.Errorf("Import() = %v, database got %+v; want the dump imported", err, h.imported(envID))
			case !ran && (!errors.Is(err, vectorapi.ErrExportUncertain) || res.ImportID == "" || !strings.Contains(err.Error(), res.ImportID)):
				t.Errorf("Import() = %+v, %v; want ErrExportUncertain naming the import", res, err)
			}
		})
	}
}

func TestImportProgress(t *testing.T) {
	h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
	var (
		mu     sync.Mutex
		phases []string
		last   restore.Progress
	)
	h.im.Progress = func(p restore.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == restore.PhaseUploading {
			last = p
		}
	}
	const size = 3<<20 + 5
	if _, err := h.im.Import(t.Context(), target(envID), newMemSource(sqlDump(t, "progress", size)).Source("dump.sql"), restore.Options{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{restore.PhaseSnapshot, restore.PhaseUploading, restore.PhaseImporting}
	if diff := cmp.Diff(want, phases); diff != "" || last.Bytes != size || last.Total != size {
		t.Errorf("phases (-want +got):\n%s\nlast upload progress %+v, want %d of %d bytes", diff, last, size, size)
	}
}

// TestImportSecrets: the API token and the upload URLs' signatures appear
// in no error and no log line, whatever goes wrong.
func TestImportSecrets(t *testing.T) {
	secrets := []string{token, "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Date"}
	tests := []struct {
		name   string
		routes string
		faults vectorsim.Faults
		expire bool
	}{
		{name: "success", routes: vectorapi.RoutesDocumented},
		{name: "import failed", routes: vectorapi.RoutesOpenAPI, faults: vectorsim.Faults{ImportFail: "failed"}},
		{name: "server errors", routes: vectorapi.RoutesDocumented, faults: vectorsim.Faults{ServerErrors: 20}},
		{name: "upload url expired", routes: vectorapi.RoutesOpenAPI, expire: true},
		{name: "upload url expired documented", routes: vectorapi.RoutesDocumented, expire: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.routes, vectorsim.Options{URLTTL: time.Minute})
			h.sim.SetFaults(siteID, tt.faults)
			src := newMemSource(sqlDump(t, "secrets", 16<<10))
			if tt.expire {
				src.onOpen = func(int) { h.clock.Advance(2 * time.Minute) }
			}
			_, err := h.im.Import(t.Context(), target(""), src.Source("dump.sql"), restore.Options{DirectLimit: -1})
			text := h.logs.String()
			if err != nil {
				text += "\n" + err.Error()
			}
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%q appears in the error or logs:\n%s", s, text)
				}
			}
		})
	}
	t.Run("failure message with a presigned url", func(t *testing.T) {
		h := newHarness(t, vectorapi.RoutesDocumented, vectorsim.Options{})
		h.sim.SetFaults(siteID, vectorsim.Faults{ImportFail: "could not read https://bucket.s3.amazonaws.com/imports/x.sql?X-Amz-Signature=abc123 (403)"})
		_, err := h.im.Import(t.Context(), target(""), newMemSource(sqlDump(t, "s", 8<<10)).Source("dump.sql"), restore.Options{})
		if err == nil || strings.Contains(err.Error(), "abc123") || !strings.Contains(err.Error(), "https://bucket.s3.amazonaws.com/imports/x.sql") {
			t.Errorf("Import() = %v, want the API's message with the URL's query removed", err)
		}
	})
}
