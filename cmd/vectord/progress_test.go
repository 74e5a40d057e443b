package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/exporter"
)

func TestProgressBarShowsBytesRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	p := &progressBar{w: &buf, start: time.Now().Add(-3 * time.Second)}
	p.update(exporter.Progress{Phase: "waiting", Total: -1})
	if !strings.Contains(buf.String(), "waiting") {
		t.Errorf("waiting phase shows %q", buf.String())
	}
	p.update(exporter.Progress{Phase: "downloading", Bytes: 0, Total: 100 << 20})
	p.dlFrom = time.Now().Add(-2 * time.Second) // 2 s into the download
	buf.Reset()
	p.update(exporter.Progress{Phase: "downloading", Bytes: 50 << 20, Total: 100 << 20})
	line := buf.String()
	for _, want := range []string{"downloading", "50.0 MiB / 100.0 MiB (50%)", "MiB/s", "ETA 2s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if !strings.HasPrefix(line, "\r\033[K") {
		t.Errorf("progress line %q does not redraw in place", line)
	}
	buf.Reset()
	p.done()
	if buf.String() != "\r\033[K" {
		t.Errorf("done() wrote %q, want the line cleared", buf.String())
	}
}
