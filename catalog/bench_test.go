package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkList measures listing one environment's 1,000 backups when the
// catalog holds 1,000,000 backups spread over 1,000 environments.
func BenchmarkList(b *testing.B) {
	const sites, envsPerSite, perEnv = 100, 10, 1000
	path := filepath.Join(b.TempDir(), "catalog.db")
	db, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		for i := range perEnv {
			// One backup a day per environment, all environments each day.
			at := t0.Add(time.Duration(i-perEnv) * 24 * time.Hour)
			for s := range sites {
				for e := range envsPerSite {
					r := rec(fmt.Sprintf("site%03d", s), fmt.Sprintf("env%d", e), at.Add(time.Duration(s*envsPerSite+e)*time.Second))
					if i%7 == 0 {
						r.Trigger = TriggerManual
					}
					data, err := json.Marshal(r)
					if err != nil {
						return err
					}
					if err := putRecord(tx, r, data); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture: %d records in %v", sites*envsPerSite*perEnv, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	mark, err := db.List(ctx, Filter{Site: "site042", Environment: "env7"})
	if err != nil || len(mark) != perEnv {
		b.Fatalf("List = %d records, %v; want %d", len(mark), err, perEnv)
	}
	if err := db.MarkDeleting(ctx, mark[0].ID); err != nil {
		b.Fatal(err)
	}

	benches := []struct {
		name string
		f    Filter
		want int
	}{
		{"one environment", Filter{Site: "site042", Environment: "env7"}, perEnv - 1},
		{"one environment, manual", Filter{Site: "site042", Environment: "env7", Trigger: TriggerManual}, -1},
		{"one site", Filter{Site: "site042"}, envsPerSite*perEnv - 1},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := db.List(ctx, bb.f)
				if err != nil || (bb.want >= 0 && len(got) != bb.want) {
					b.Fatalf("List(%+v) = %d records, %v; want %d", bb.f, len(got), err, bb.want)
				}
			}
		})
	}
	b.Run("one environment, small catalog", func(b *testing.B) {
		// The same query on a catalog holding only that environment: List
		// costs the same whatever the rest of the catalog holds.
		small := openTest(b)
		for i := range perEnv {
			mustAdd(b, small, rec("site042", "env7", t0.Add(time.Duration(i)*time.Hour)))
		}
		b.ResetTimer()
		for b.Loop() {
			if got, err := small.List(ctx, Filter{Site: "site042", Environment: "env7"}); err != nil || len(got) != perEnv {
				b.Fatalf("List = %d records, %v; want %d", len(got), err, perEnv)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Get(ctx, mark[1].ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
