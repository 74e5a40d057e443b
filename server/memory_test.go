package server

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/builtfast/vectord/catalog"
)

// discardWriter is a ResponseWriter that keeps only the status and the
// number of bytes written, so that measuring a request's allocations does
// not count a recorder's copy of the body.
type discardWriter struct {
	h     http.Header
	code  int
	bytes int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.bytes += int64(len(p))
	return len(p), nil
}

// catalogFixture is a real catalog of backups and their ids.
type catalogFixture struct {
	db  *catalog.DB
	ids []string // newest first
}

// sizedCatalog returns a catalog of n backups (fillCatalog's) in a
// temporary directory.
func sizedCatalog(tb testing.TB, n int) catalogFixture {
	tb.Helper()
	db := openCatalog(tb)
	return catalogFixture{db: db, ids: fillCatalog(tb, db, n)}
}

// pageAlloc serves target on h runs times and returns the bytes and
// objects allocated per request (runtime.MemStats TotalAlloc and Mallocs),
// checking each answer is 200 and about the size of want records.
func pageAlloc(tb testing.TB, h http.Handler, target string, runs, want int) (bytesPerReq, allocsPerReq uint64) {
	tb.Helper()
	serve := func() {
		req := httptest.NewRequest("GET", target, nil)
		req.Host = "127.0.0.1:9469"
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.bytes < int64(want)*400 {
			tb.Fatalf("GET %s = %d with %d bytes, want 200 with %d records", target, w.code, w.bytes, want)
		}
	}
	serve() // warm up: bbolt's pages mapped, pools filled
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs), (after.Mallocs - before.Mallocs) / uint64(runs)
}

// TestListBackupsMemoryDoesNotGrowWithCatalog serves pages of 1,000
// records from catalogs of 20,000 and 200,000 backups (real bbolt files,
// filled with catalog.AddBatch) and checks that a request allocates about
// the same, however large the catalog: the handler holds one page, never
// the catalog. (Listing the whole catalog, as the handler did before
// paging, allocates about 55 MiB for 20,000 backups and 575 MiB for
// 200,000; a page allocates about 4.5 MiB for either.) Under the race
// detector, which fills a catalog ten times slower, the catalogs are ten
// times smaller.
// largeCatalog is the larger catalog of the memory test (go test ./server
// -run Memory -args -large-catalog=1000000 for the figure in the README).
var largeCatalog = flag.Int("large-catalog", 200_000, "backups in the larger catalog of the memory test")

func TestListBackupsMemoryDoesNotGrowWithCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a catalog of 200,000 backups")
	}
	sizes := []int{20_000, *largeCatalog}
	if raceEnabled {
		sizes = []int{2_000, 20_000}
	}
	type figure struct{ bytes, allocs uint64 }
	got := map[string]map[int]figure{}
	for _, n := range sizes {
		fx := sizedCatalog(t, n)
		o := testOptions(t)
		o.Backups = fx.db
		h := mustNew(t, o).Handler()
		pages := map[string]string{
			"newest page":        "/api/v1/backups?limit=1000",
			"page in the middle": fmt.Sprintf("/api/v1/backups?limit=1000&after=%s", fx.ids[n/2]),
			"one environment":    "/api/v1/backups?site=acme&env=staging&limit=1000",
		}
		for name, target := range pages {
			b, a := pageAlloc(t, h, target, 3, 999)
			if got[name] == nil {
				got[name] = map[int]figure{}
			}
			got[name][n] = figure{b, a}
			t.Logf("%s of 1000 from a catalog of %d: %d KiB, %d allocations per request", name, n, b>>10, a)
		}
	}
	for name, f := range got {
		small, large := f[sizes[0]], f[sizes[1]]
		// Ten times the catalog: within a quarter more memory.
		if float64(large.bytes) > 1.25*float64(small.bytes) {
			t.Errorf("%s: %d bytes per request with %d backups, %d with %d: memory grows with the catalog",
				name, large.bytes, sizes[1], small.bytes, sizes[0])
		}
		if float64(large.allocs) > 1.25*float64(small.allocs) {
			t.Errorf("%s: %d allocations per request with %d backups, %d with %d: allocations grow with the catalog",
				name, large.allocs, sizes[1], small.allocs, sizes[0])
		}
	}
}

// BenchmarkListBackupsPage measures one GET /api/v1/backups page of 1,000
// records from catalogs of 20,000 and 200,000 backups.
func BenchmarkListBackupsPage(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprintf("catalog=%d", n), func(b *testing.B) {
			fx := sizedCatalog(b, n)
			o := testOptions(b)
			o.Backups = fx.db
			h := mustNew(b, o).Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/v1/backups?limit=1000", nil)
				req.Host = "127.0.0.1:9469"
				req.Header.Set("Authorization", "Bearer "+testToken)
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("GET = %d", w.code)
				}
			}
		})
	}
}
