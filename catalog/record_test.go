package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenRecord is the record testdata/record.golden.json holds.
func goldenRecord() Record {
	return Record{
		ID:            "01jp9m2x3c8v4k7n6q5r0s1t2w",
		Site:          "acme",
		Environment:   "production",
		SiteID:        "12345",
		EnvironmentID: "67890",
		ExportID:      "exp_9f8e7d6c",
		Source:        SourceExport,
		Trigger:       TriggerManual,
		Pinned:        true,
		VerifiedAt:    "2025-03-15T05:00:12Z",
		Reason:        "before plugin update",
		StartedAt:     time.Date(2025, 3, 14, 2, 0, 3, 123456789, time.UTC),
		CompletedAt:   time.Date(2025, 3, 14, 2, 4, 41, 0, time.UTC),
		SizeBytes:     734003200,
		SHA256:        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		StoredBytes:   98566144,
		Compression:   CompressionZstd,
		Locations: []Location{
			{Target: TargetLocal, URI: "file:///var/lib/vectord/backups/acme/production/acme_production_20250314T020003Z_exp_9f8e7d6c.sql.zst"},
			{Target: TargetS3, URI: "s3://acme-db-backups/vectord/acme/production/acme_production_20250314T020003Z_exp_9f8e7d6c.sql.zst"},
		},
	}
}

// TestRecordJSONForm pins the JSON form of a record: `vectord list --json`
// and manifests print exactly the catalog record fields of the contract,
// in its order, with RFC 3339 UTC times.
func TestRecordJSONForm(t *testing.T) {
	r := goldenRecord()
	if err := r.Validate(); err != nil {
		t.Fatalf("golden record does not validate: %v", err)
	}
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "record.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("JSON form differs from %s (-want +got):\n%s", golden, diff)
	}

	wantKeys := []string{
		"id", "site", "environment", "site_id", "environment_id", "export_id",
		"source", "platform_backup_id", "trigger", "encrypted", "recipients",
		"pinned", "verified_at", "reason", "started_at", "completed_at", "size_bytes",
		"sha256", "stored_bytes", "compression", "locations",
	}
	if keys := topLevelKeys(t, got); !slices.Equal(keys, wantKeys) {
		t.Errorf("record keys = %q, want %q", keys, wantKeys)
	}
	var loc []map[string]any
	var wrap struct {
		Locations *[]map[string]any `json:"locations"`
	}
	wrap.Locations = &loc
	if err := json.Unmarshal(got, &wrap); err != nil {
		t.Fatal(err)
	}
	for i, l := range loc {
		var keys []string
		for k := range l {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"target", "uri"}) {
			t.Errorf("locations[%d] keys = %q, want [target uri]", i, keys)
		}
	}
	if !bytes.Contains(got, []byte(`"started_at": "2025-03-14T02:00:03.123456789Z"`)) {
		t.Errorf("started_at is not RFC 3339 UTC with nanoseconds:\n%s", got)
	}

	back, err := decodeRecord(want)
	if err != nil {
		t.Fatalf("decodeRecord(golden): %v", err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("golden round trip (-want +got):\n%s", diff)
	}
}

func topLevelKeys(tb testing.TB, data []byte) []string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		tb.Fatalf("not a JSON object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Record)
		want   string // in the error; "" = valid
	}{
		{"valid", func(*Record) {}, ""},
		{"development db has no environment id", func(r *Record) { r.EnvironmentID = "" }, ""},
		{"empty reason", func(r *Record) { r.Reason = "" }, ""},
		{"pre-import", func(r *Record) { r.Trigger = TriggerPreImport }, ""},
		{"gzip", func(r *Record) { r.Compression = CompressionGzip }, ""},
		{"none", func(r *Record) { r.Compression = CompressionNone }, ""},
		{"s3 only", func(r *Record) { r.Locations = []Location{{Target: TargetS3, URI: "s3://b/k"}} }, ""},
		{"empty dump", func(r *Record) { r.SizeBytes, r.StoredBytes = 0, 0 }, ""},
		{"missing id", func(r *Record) { r.ID = "" }, "id"},
		{"uppercase id", func(r *Record) { r.ID = strings.ToUpper(r.ID) }, "id"},
		{"id not a ulid", func(r *Record) { r.ID = "backup-1" }, "id"},
		{"id overflows", func(r *Record) { r.ID = "8" + r.ID[1:] }, "id"},
		{"missing site", func(r *Record) { r.Site = "" }, "site"},
		{"site with slash", func(r *Record) { r.Site = "acme/../x" }, "site"},
		{"site uppercase", func(r *Record) { r.Site = "Acme" }, "site"},
		{"missing environment", func(r *Record) { r.Environment = "" }, "environment"},
		{"environment with nul", func(r *Record) { r.Environment = "prod\x00x" }, "environment"},
		{"missing export id", func(r *Record) { r.ExportID = "" }, "export_id"},
		{"export id with space", func(r *Record) { r.ExportID = "a b" }, "export_id"},
		{"export id with newline", func(r *Record) { r.ExportID = "a\nb" }, "export_id"},
		{"missing trigger", func(r *Record) { r.Trigger = "" }, "trigger"},
		{"unknown trigger", func(r *Record) { r.Trigger = "scheduled" }, "trigger"},
		{"missing started_at", func(r *Record) { r.StartedAt = time.Time{} }, "started_at"},
		{"started before 1970", func(r *Record) { r.StartedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "started_at"},
		{"started after 2262", func(r *Record) {
			r.StartedAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
			r.CompletedAt = r.StartedAt
		}, "started_at"},
		{"missing completed_at", func(r *Record) { r.CompletedAt = time.Time{} }, "completed_at"},
		{"completed before started", func(r *Record) { r.CompletedAt = r.StartedAt.Add(-time.Second) }, "completed_at"},
		{"negative size", func(r *Record) { r.SizeBytes = -1 }, "size_bytes"},
		{"negative stored size", func(r *Record) { r.StoredBytes = -1 }, "stored_bytes"},
		{"missing sha256", func(r *Record) { r.SHA256 = "" }, "sha256"},
		{"short sha256", func(r *Record) { r.SHA256 = r.SHA256[:63] }, "sha256"},
		{"uppercase sha256", func(r *Record) { r.SHA256 = strings.ToUpper(r.SHA256) }, "sha256"},
		{"non-hex sha256", func(r *Record) { r.SHA256 = "g" + r.SHA256[1:] }, "sha256"},
		{"missing compression", func(r *Record) { r.Compression = "" }, "compression"},
		{"unknown compression", func(r *Record) { r.Compression = "xz" }, "compression"},
		{"no locations", func(r *Record) { r.Locations = nil }, "locations"},
		{"test target", func(r *Record) { r.Locations[0].Target = "memory" }, ""},
		{"missing target", func(r *Record) { r.Locations[0].Target = "" }, "locations[0].target"},
		{"malformed target", func(r *Record) { r.Locations[0].Target = "S3 bucket" }, "locations[0].target"},
		{"empty uri", func(r *Record) { r.Locations[0].URI = "" }, "locations[0].uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goldenRecord()
			tt.change(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error matching ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to name %q", err, tt.want)
			}
		})
	}
}

func TestValidateNamesEveryFault(t *testing.T) {
	err := Record{}.Validate()
	if err == nil {
		t.Fatal("Validate(Record{}) = nil, want an error")
	}
	for _, field := range []string{"id", "site", "environment", "export_id", "trigger", "started_at", "completed_at", "sha256", "compression", "locations"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate(Record{}) = %q, does not name %s", err, field)
		}
	}
}

func TestNewIDFormat(t *testing.T) {
	for _, at := range []time.Time{t0, time.Unix(0, 0), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		id := NewID(at)
		if !idRE.MatchString(id) {
			t.Errorf("NewID(%v) = %q, want a lowercase ULID", at, id)
		}
		u, err := ulid.ParseStrict(id)
		if err != nil {
			t.Errorf("NewID(%v) = %q: %v", at, id, err)
		}
		if want := max(at.UnixMilli(), 0); int64(u.Time()) != want {
			t.Errorf("NewID(%v) time = %d ms, want %d", at, u.Time(), want)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	var prev string
	for i := range 1000 {
		// Steps of 0.4 ms: several ids share each millisecond.
		id := NewID(t0.Add(time.Duration(i) * 400 * time.Microsecond))
		if id <= prev {
			t.Fatalf("id %d = %s, not after %s", i, id, prev)
		}
		prev = id
	}
	earlier := NewID(t0.Add(-time.Hour))
	if earlier >= prev {
		t.Errorf("NewID(an hour earlier) = %s, want it to sort before %s", earlier, prev)
	}
	// An id for an earlier time does not break the order of the next ones.
	if next := NewID(t0.Add(999 * 400 * time.Microsecond)); next <= prev {
		t.Errorf("NewID(same ms again) = %s, want it after %s", next, prev)
	}
}

func TestNewIDConcurrentUniqueAndIncreasing(t *testing.T) {
	const goroutines, each = 8, 2000
	at := time.Now() // every id shares one millisecond
	got := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				got[g] = append(got[g], NewID(at))
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, goroutines*each)
	for g, list := range got {
		for i, id := range list {
			if seen[id] {
				t.Fatalf("NewID returned %s twice", id)
			}
			seen[id] = true
			if i > 0 && id <= list[i-1] {
				t.Fatalf("goroutine %d: id %s after %s, want increasing", g, id, list[i-1])
			}
		}
	}
}

func TestNextIDOverflow(t *testing.T) {
	var last ulid.ULID
	_ = last.SetTime(42)
	for i := 6; i < 16; i++ {
		last[i] = 0xff
	}
	if _, ok := nextID(last, 42); ok {
		t.Errorf("nextID(max entropy) reported ok, want overflow")
	}
	for i := 10; i < 16; i++ {
		last[i] = 0 // the low 48 bits are free: room for any step
	}
	next, ok := nextID(last, 42)
	if !ok || next.Compare(last) <= 0 || next.Time() != 42 {
		t.Errorf("nextID = %v, %v; want a greater id in ms 42", next, ok)
	}
}
