package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// archived returns r's locations plus an s3 copy.
func archived(r Record) []Location {
	return append(append([]Location{}, r.Locations...), Location{
		Target: TargetS3,
		URI:    "s3://acme-db-backups/vectord/" + r.Site + "/" + r.Environment + "/" + r.ID + ".sql.zst",
	})
}

func TestSetLocations(t *testing.T) {
	ctx := context.Background()
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	older := rec("acme", "production", t0)
	target := rec("acme", "production", t0.Add(time.Hour))
	other := rec("beta", "production", t0.Add(2*time.Hour))
	mustAdd(t, db, older, target, other)

	// The archive copy arrived later: the record gains its s3 location,
	// given with the id in upper case as a user may type it.
	want := target
	want.Locations = archived(target)
	if err := db.SetLocations(ctx, strings.ToUpper(target.ID), want.Locations); err != nil {
		t.Fatalf("SetLocations: %v", err)
	}
	check := func(t *testing.T, db *DB) {
		t.Helper()
		got, err := db.List(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		// Only the locations changed: same order, same other fields.
		if diff := cmp.Diff([]Record{other, want, older}, got); diff != "" {
			t.Errorf("List after SetLocations (-want +got):\n%s", diff)
		}
		if got, err := db.Get(ctx, target.ID); err != nil || !cmp.Equal(want, got) {
			t.Errorf("Get after SetLocations = %+v, %v; want %+v", got, err, want)
		}
	}
	check(t, db)
	// The change was committed to the file.
	db = reopen(t, db)
	check(t, db)

	// Replacing is not appending: a copy that is gone can be dropped.
	only := []Location{{Target: TargetS3, URI: "s3://acme-db-backups/vectord/x.sql.zst"}}
	if err := db.SetLocations(ctx, target.ID, only); err != nil {
		t.Fatalf("SetLocations(s3 only): %v", err)
	}
	if got, err := db.Get(ctx, target.ID); err != nil || !cmp.Equal(only, got.Locations) {
		t.Errorf("locations after replacing = %+v, %v; want %+v", got.Locations, err, only)
	}
}

func TestSetLocationsRefused(t *testing.T) {
	ctx := context.Background()
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	live := rec("acme", "production", t0)
	marked := rec("acme", "production", t0.Add(time.Hour))
	removed := rec("acme", "production", t0.Add(2*time.Hour))
	mustAdd(t, db, live, marked, removed)
	if err := db.MarkDeleting(ctx, marked.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Remove(ctx, removed.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		id      string
		locs    []Location
		wantErr error
		wantMsg []string // parts the error must name
	}{
		{"no locations", live.ID, nil, ErrInvalid, []string{"locations is empty"}},
		{"empty list", live.ID, []Location{}, ErrInvalid, []string{"locations is empty"}},
		{"bad target and missing uri", live.ID, []Location{
			{Target: TargetLocal, URI: "file:///a"},
			{Target: "S3 archive", URI: "s3://b/k"},
			{Target: TargetS3},
		}, ErrInvalid, []string{`locations[1].target "S3 archive"`, "locations[2].uri is empty"}},
		{"unknown id", NewID(t0), archived(live), ErrNotFound, nil},
		{"marked deleting", marked.ID, archived(marked), ErrNotFound, nil},
		{"removed", removed.ID, archived(removed), ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.SetLocations(ctx, tt.id, tt.locs)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetLocations = %v, want %v", err, tt.wantErr)
			}
			for _, part := range append(tt.wantMsg, tt.id) {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
		})
	}

	// Nothing changed: the live record keeps its location, the marked one
	// stays marked with its old location (its delete retries against the
	// targets it was on), the removed one stays gone.
	if got, err := db.List(ctx, Filter{}); err != nil || !cmp.Equal([]Record{live}, got) {
		t.Errorf("List after refused changes = %+v, %v; want only %s unchanged", got, err, live.ID)
	}
	if del, err := db.Deleting(ctx); err != nil || !cmp.Equal([]Record{marked}, del) {
		t.Errorf("Deleting after refused changes = %+v, %v; want only %s unchanged", del, err, marked.ID)
	}
}
