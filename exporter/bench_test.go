package exporter_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkBackup measures one whole backup (export, poll, download, SHA-256,
// zstd, fsync, catalog) against the simulator over loopback, and the peak
// heap while it runs: the pipeline streams, so the peak must not grow with
// the dump size.
//
//	go test -run '^$' -bench Backup -benchtime 3x ./exporter
func BenchmarkBackup(b *testing.B) {
	for _, size := range []int64{64 << 20, 256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			h := newHarness(b, harnessOptions{size: size})
			b.SetBytes(size)
			peak := sampleHeap(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := h.run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
		})
	}
}

// sampleHeap samples HeapInuse every few milliseconds until the returned
// function is called, which returns the peak.
func sampleHeap(b *testing.B) func() uint64 {
	runtime.GC()
	var (
		mu   sync.Mutex
		max  uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				mu.Lock()
				max = maxU(max, ms.HeapInuse)
				mu.Unlock()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return max
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
