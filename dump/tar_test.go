package dump

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

type member struct {
	name string
	data []byte
	gz   bool
}

func tarOf(t testing.TB, ms ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		data := m.data
		if m.gz {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTarSQL(t *testing.T) {
	sql := []byte("-- MySQL dump\nINSERT INTO t VALUES (1);\n-- Dump completed on 2026-12-04\n")
	photo := bytes.Repeat([]byte{0xff}, 3000)
	for _, tc := range []struct {
		name    string
		archive []byte
		want    []byte
		errHas  []string
	}{
		{"database scope", tarOf(t, member{name: "backup/db.sql", data: sql}), sql, nil},
		{"full scope: files around the dump", tarOf(t, member{name: "wp-content/uploads/a.jpg", data: photo},
			member{name: "database/site.sql", data: sql}, member{name: "wp-config.php", data: []byte("<?php")}), sql, nil},
		{"gzipped member", tarOf(t, member{name: "db.sql.gz", data: sql, gz: true}), sql, nil},
		{"no dump", tarOf(t, member{name: "a.txt", data: []byte("x")}, member{name: "b.jpg", data: photo}), nil,
			[]string{"no .sql dump", "a.txt", "b.jpg"}},
		{"two dumps", tarOf(t, member{name: "one.sql", data: sql}, member{name: "x.txt"}, member{name: "two.sql", data: sql}), nil,
			[]string{"several .sql dumps", "one.sql", "two.sql", "x.txt"}},
		{"not a tar stream", []byte("this is not an archive at all, not even close"), nil, []string{"backup archive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := io.ReadAll(TarSQL(bytes.NewReader(tc.archive)))
			if tc.errHas == nil {
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("TarSQL = %q, %v; want the dump", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("TarSQL = %d bytes, nil error; want an error naming %v", len(got), tc.errHas)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

func FuzzTarSQL(f *testing.F) {
	f.Add(tarOf(f, member{name: "db.sql", data: []byte("SELECT 1;\n")}))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = io.Copy(io.Discard, TarSQL(bytes.NewReader(data))) // never panics
	})
}
