package vectorsim

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// archiveSpec describes the .tar.gz archive of a backup download.
//
// Its members, in order (directories end in /):
//
//	scope full and files:   wp-content/
//	                        wp-content/uploads/2026/01/hero.jpg          (48 KiB)
//	                        wp-content/themes/vector-starter/style.css
//	scope full and database: database/
//	                        database/<database name>.sql                 (the dump; .sql.gz when gzipped)
//	with two dumps:          database/<database name>-previous.sql       (a small second dump)
//	scope full and files:   wp-content/uploads/2026/01/hero-300x200.jpg  (12 KiB)
//	                        wp-content/plugins/hello-dolly/hello.php
//
// The file members' bytes are derived from seed; the whole archive is the
// same bytes for the same spec.
type archiveSpec struct {
	seed    string    // seeds the file members
	modTime time.Time // every member's modification time
	scope   string
	dbName  string // the dump member is database/<dbName>.sql
	sql     Body   // the dump (already gzip-compressed when gzipSQL); nil for scope files
	gzipSQL bool   // name the dump member .sql.gz
	twoSQL  bool   // add a second .sql member
	noSQL   bool   // leave the dump member out
}

// member is one archive entry; dirs have no body.
type member struct {
	name string
	dir  bool
	body Body
}

// members lists the archive's entries in order.
func (a archiveSpec) members() []member {
	files := a.scope == scopeFull || a.scope == scopeFiles
	db := a.scope == scopeFull || a.scope == scopeDatabase
	var m []member
	if files {
		m = append(m,
			member{name: "wp-content/", dir: true},
			member{name: "wp-content/uploads/2026/01/hero.jpg", body: a.jpeg("hero", 48<<10)},
			member{name: "wp-content/themes/vector-starter/style.css", body: strings.NewReader(styleCSS)},
		)
	}
	if db {
		m = append(m, member{name: "database/", dir: true})
		if !a.noSQL && a.sql != nil {
			name := "database/" + a.dbName + ".sql"
			if a.gzipSQL {
				name += ".gz"
			}
			m = append(m, member{name: name, body: a.sql})
		}
		if a.twoSQL {
			m = append(m, member{name: "database/" + a.dbName + "-previous.sql",
				body: Dump(a.seed+"/previous", 4<<10, MySQL)})
		}
	}
	if files {
		m = append(m,
			member{name: "wp-content/uploads/2026/01/hero-300x200.jpg", body: a.jpeg("thumb", 12<<10)},
			member{name: "wp-content/plugins/hello-dolly/hello.php", body: strings.NewReader(helloPHP)},
		)
	}
	return m
}

// jpeg returns size deterministic bytes that start and end like a JPEG.
func (a archiveSpec) jpeg(name string, size int) Body {
	sum := sha256.Sum256([]byte(a.seed + "/" + name))
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(sum).Read(b)
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00})
	copy(b[size-2:], []byte{0xFF, 0xD9})
	return strings.NewReader(string(b))
}

// write streams the archive to w: tar inside gzip, each member copied
// through a small buffer, so memory stays constant whatever the dump size.
func (a archiveSpec) write(ctx context.Context, w io.Writer) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	mod := a.modTime.UTC().Truncate(time.Second)
	for _, m := range a.members() {
		h := &tar.Header{Name: m.name, ModTime: mod, Uid: 33, Gid: 33, Uname: "www-data", Gname: "www-data"}
		if m.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, m.body.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write header of %s: %w", m.name, err)
		}
		if m.dir {
			continue
		}
		if _, err := io.Copy(tw, ctxReader{ctx, io.NewSectionReader(m.body, 0, m.body.Size())}); err != nil {
			return fmt.Errorf("write %s: %w", m.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// buildArchive writes the archive of a backup download to a temporary file
// under Options.TempDir, which Close removes, and returns it as a Body. A
// gzip-compressed dump member is compressed first into a temporary file of
// its own, removed before buildArchive returns.
func (s *Server) buildArchive(ctx context.Context, id string, a archiveSpec) (Body, error) {
	if a.gzipSQL && a.sql != nil && !a.noSQL {
		gz, err := s.gzipCopy(ctx, id, a.sql, false)
		if err != nil {
			return nil, err
		}
		fb := gz.(fileBody)
		defer func() {
			_ = fb.f.Close()
			s.removeTemp(fb.f.Name())
		}()
		a.sql = gz
	}
	f, err := s.createTemp("vectorsim-"+id+"-*.tar.gz", true)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = a.write(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	var st os.FileInfo
	if err == nil {
		st, err = f.Stat()
	}
	if err != nil {
		s.removeTemp(f.Name())
		_ = f.Close()
		return nil, fmt.Errorf("archive backup download %s: %w", id, err)
	}
	return fileBody{f: f, size: st.Size()}, nil
}

const styleCSS = `/*
Theme Name: Vector Starter
Author: BuiltFast
Version: 1.0.0
*/
body { font-family: system-ui, sans-serif; margin: 0; }
.site-header { padding: 2rem; background: #0b1e3f; color: #fff; }
`

const helloPHP = `<?php
/**
 * Plugin Name: Hello Dolly
 * Version: 1.7.2
 */
function hello_dolly_get_lyric() {
	return wptexturize( 'Hello, Dolly' );
}
`
