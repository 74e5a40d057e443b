package dump

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

const (
	mysqlDump = `-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: wordpress
-- ------------------------------------------------------
-- Server version	8.0.36

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
DROP TABLE IF EXISTS ` + "`wp_options`" + `;
CREATE TABLE ` + "`wp_options`" + ` (
  ` + "`option_id`" + ` bigint unsigned NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (` + "`option_id`" + `)
) ENGINE=InnoDB;
INSERT INTO ` + "`wp_options`" + ` VALUES (1,'siteurl','https://example.com','yes');
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-01-24 12:00:00
`
	mariadbDump = `/*M!999999\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: wordpress
INSERT INTO t VALUES (1);
-- Dump completed on 2026-01-24 12:00:00
`
)

// write feeds s to c in pieces of size n (all at once when n <= 0).
func write(c *Checker, s string, n int) {
	if n <= 0 {
		n = len(s) + 1
	}
	for len(s) > 0 {
		k := min(n, len(s))
		if got, err := c.Write([]byte(s[:k])); got != k || err != nil {
			panic("Write failed")
		}
		s = s[k:]
	}
}

func TestChecker(t *testing.T) {
	truncated := mysqlDump[:strings.Index(mysqlDump, "INSERT")+20]
	tests := []struct {
		name    string
		in      string
		kind    string
		wantErr error
	}{
		{"mysql", mysqlDump, "mysql", nil},
		{"mariadb with sandbox line", mariadbDump, "mariadb", nil},
		{"mariadb without sandbox line", strings.SplitN(mariadbDump, "\n", 2)[1], "mariadb", nil},
		{"mysql after sandbox line", sandboxLine + "\n" + mysqlDump, "mysql", nil},
		{"truncated mid-line", truncated, "mysql", ErrIncomplete},
		{"truncated mariadb", mariadbDump[:len(mariadbDump)-30], "mariadb", ErrIncomplete},
		{"no trailer", strings.Replace(mysqlDump, "-- Dump completed", "-- Dump", 1), "mysql", ErrIncomplete},
		{"trailer not last", mysqlDump + "INSERT INTO t VALUES (2);\n", "mysql", ErrIncomplete},
		{"trailer indented", strings.Replace(mysqlDump, "-- Dump completed", " -- Dump completed", 1), "mysql", ErrIncomplete},
		{"trailer without date", strings.Replace(mysqlDump, "-- Dump completed on 2026-01-24 12:00:00", "-- Dump completed", 1), "mysql", nil},
		{"trailer without final newline", strings.TrimSuffix(mysqlDump, "\n"), "mysql", nil},
		{"trailing blank lines", mysqlDump + "\n\n  \n\t\n\n", "mysql", nil},
		{"many trailing blanks", mysqlDump + strings.Repeat(" \n", 5000), "mysql", nil},
		{"crlf", strings.ReplaceAll(mysqlDump, "\n", "\r\n") + "\r\n", "mysql", nil},
		{"crlf truncated", strings.ReplaceAll(truncated, "\n", "\r\n"), "mysql", ErrIncomplete},
		{"header only", "-- MySQL dump 10.13\n", "mysql", ErrIncomplete},
		{"header is not the first line", "\n" + mysqlDump[:100], "", nil},
		{"long last line", mysqlDump + "-- Dump completed" + strings.Repeat("x", 5000) + "\n", "mysql", nil},
		{"long last line not a trailer", mysqlDump + strings.Repeat("x", 5000) + "\n", "mysql", ErrIncomplete},
		{"other SQL", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n", "", nil},
		{"blank but not empty", "\n", "", nil},
		{"empty", "", "", ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2, 3, 7, 64} {
				c := NewChecker()
				write(c, tt.in, size)
				if got := c.Kind(); got != tt.kind {
					t.Errorf("writes of %d: Kind() = %q, want %q", size, got, tt.kind)
				}
				err := c.Check()
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("writes of %d: Check() = %v, want %v", size, err, tt.wantErr)
				}
			}
		})
	}
}

func TestCheckerTrailerSplitAcrossWrites(t *testing.T) {
	// Every split of the trailer region into two writes, then three.
	body := mysqlDump[:strings.Index(mysqlDump, "-- Dump completed")]
	tail := "-- Dump completed on 2026-01-24 12:00:00\r\n\n"
	for i := 0; i <= len(tail); i++ {
		for j := i; j <= len(tail); j++ {
			c := NewChecker()
			for _, part := range []string{body, tail[:i], tail[i:j], tail[j:]} {
				c.Write([]byte(part))
			}
			if err := c.Check(); err != nil {
				t.Fatalf("split at %d, %d: Check() = %v, want nil", i, j, err)
			}
		}
	}
}

func TestCheckerMessage(t *testing.T) {
	c := NewChecker()
	secret := "INSERT INTO wp_users VALUES ('admin','$P$Bsecrethash')"
	write(c, "-- MariaDB dump 10.19\n"+secret, 0)
	err := c.Check()
	want := `dump is incomplete: MariaDB dump of 76 bytes does not end with a "-- Dump completed" line`
	if err == nil || err.Error() != want {
		t.Fatalf("Check() = %v, want %s", err, want)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("Check() error quotes the dump: %v", err)
	}
}

// TestCheckerLargeStream checks that memory stays bounded: the checker
// holds no more than its head and a line start after many megabytes.
func TestCheckerLargeStream(t *testing.T) {
	c := NewChecker()
	c.Write([]byte("-- MySQL dump 10.13\n"))
	line := []byte("INSERT INTO t VALUES " + strings.Repeat("(1,'abc'),", 1000) + ";\n")
	for range 2000 {
		c.Write(line)
	}
	c.Write([]byte("-- Dump completed\n"))
	if err := c.Check(); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	if n := cap(c.head) + cap(c.cur) + cap(c.last); n > 2*headSize {
		t.Errorf("checker holds %d bytes of buffers", n)
	}
}

// TestCheckerCopy uses the Checker the way a download does, as one side
// of a tee.
func TestCheckerCopy(t *testing.T) {
	c := NewChecker()
	var sink bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(&sink, c), strings.NewReader(mysqlDump)); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Errorf("Check() = %v", err)
	}
}

func TestIsGzip(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(mysqlDump))
	w.Close()
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"gzip stream", gz.Bytes(), true},
		{"magic only", []byte{0x1f, 0x8b}, true},
		{"plain SQL", []byte(mysqlDump), false},
		{"one byte", []byte{0x1f}, false},
		{"empty", nil, false},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsGzip(tt.in); got != tt.want {
				t.Errorf("IsGzip(% x...) = %v, want %v", tt.in[:min(4, len(tt.in))], got, tt.want)
			}
		})
	}
}

// reference checks a whole dump held in memory, as the package doc
// describes it.
func reference(data []byte) (kind string, err error) {
	if len(data) == 0 {
		return "", ErrEmpty
	}
	head := string(data[:min(len(data), headSize)])
	lines := strings.SplitN(head, "\n", 3)
	first := lines[0]
	if strings.TrimRight(first, blanks) == sandboxLine {
		first = ""
		if len(lines) > 1 {
			first = lines[1]
		}
	}
	switch {
	case strings.HasPrefix(first, "-- MySQL dump"):
		kind = "mysql"
	case strings.HasPrefix(first, "-- MariaDB dump"):
		kind = "mariadb"
	default:
		return "", nil
	}
	all := strings.Split(string(data), "\n")
	for i := len(all) - 1; i >= 0; i-- {
		if strings.Trim(all[i], blanks) != "" {
			if strings.HasPrefix(all[i], "-- Dump completed") {
				return kind, nil
			}
			break
		}
	}
	return kind, ErrIncomplete
}

func FuzzChecker(f *testing.F) {
	f.Add([]byte(mysqlDump), []byte{3, 1, 200})
	f.Add([]byte(mariadbDump), []byte{1})
	f.Add([]byte(mysqlDump[:300]), []byte{17, 5})
	f.Add([]byte(sandboxLine+"   \r\n-- MySQL dump\r\n-- Dump completed\r\n\r\n"), []byte{2, 9})
	f.Add([]byte("-- MariaDB dump\n-- Dump completed\n \n-\n"), []byte{0, 4})
	f.Add([]byte(""), []byte{})
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		wantKind, wantErr := reference(data)
		c := NewChecker()
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(splits) > 0 {
				n = min(int(splits[i%len(splits)]), len(rest))
			}
			if got, err := c.Write(rest[:n]); got != n || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
			}
			rest = rest[n:]
			if i > len(data)+1 {
				break
			}
		}
		if len(rest) > 0 { // splits of zero only: write the rest at once
			c.Write(rest)
		}
		if got := c.Kind(); got != wantKind {
			t.Errorf("Kind() = %q, want %q", got, wantKind)
		}
		err := c.Check()
		if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
			t.Errorf("Check() = %v, want %v", err, wantErr)
		}
	})
}

func BenchmarkChecker(b *testing.B) {
	chunk := []byte(strings.Repeat("INSERT INTO t VALUES (1,'abc'),(2,'def');\n", 800))
	b.SetBytes(int64(len(chunk)))
	c := NewChecker()
	c.Write([]byte("-- MySQL dump 10.13\n"))
	for b.Loop() {
		c.Write(chunk)
	}
}
