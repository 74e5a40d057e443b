package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/memory"
)

// gatedTarget is an archive target whose first Create waits for the test:
// an archive copy caught in the middle.
type gatedTarget struct {
	*memory.Target
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedTarget) Create(ctx context.Context, key string) (storage.Writer, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Target.Create(ctx, key)
}

// TestForgetDuringAnArchiveCopyLeavesNoCopy: a forget that resolved its
// backup while an archive copy was under way waits for the copy (the
// environment's lock) and then deletes the new copy too — no object or
// manifest is left on the archive target for a backup that is gone.
func TestForgetDuringAnArchiveCopyLeavesNoCopy(t *testing.T) {
	f := newFixture(t)
	code, out, errs := f.vectord("backup", "--site", "globex")
	if code != 0 {
		t.Fatalf("backup = %d %q", code, errs)
	}
	id := strings.TrimSpace(out)
	ctx := context.Background()
	cfg, err := loadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(ctx, f.cfg, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.app.Close()
	archive := &gatedTarget{Target: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	d.ex.Archives = []storage.Target{archive}
	d.app.targets = append(d.app.targets, archive)
	rec, err := d.app.cat.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	archived := make(chan error, 1)
	go func() {
		_, err := d.archiveOne(ctx, rec)
		archived <- err
	}()
	<-archive.entered // the copy has begun and holds the environment's lock
	forgotten := make(chan error, 1)
	go func() {
		_, err := d.app.forget(ctx, []string{id}, d.lockEnv, nil)
		forgotten <- err
	}()
	close(archive.release)
	if err := <-archived; err != nil {
		t.Fatalf("archive copy: %v", err)
	}
	if err := <-forgotten; err != nil {
		t.Fatalf("forget: %v", err)
	}
	if objs, err := archive.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Errorf("archive target after forget holds %v (%v), want nothing", objs, err)
	}
	if _, err := d.app.cat.Get(ctx, id); err == nil {
		t.Error("the forgotten backup is still in the catalog")
	}
	recs, err := d.app.cat.List(ctx, catalog.Filter{})
	if err != nil || len(recs) != 0 {
		t.Errorf("catalog = %v, %v; want empty", recs, err)
	}
}
