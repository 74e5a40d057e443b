package vectorsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Body is a stored export: random access to a fixed number of bytes.
// Implementations must be safe for concurrent ReadAt calls.
type Body interface {
	io.ReaderAt
	Size() int64
}

// Flavor selects which server's mysqldump a generated dump imitates.
type Flavor int

// The dump flavors Dump can generate.
const (
	MySQL   Flavor = iota // mysqldump 10.13 from MySQL 8.0.36
	MariaDB               // mariadb-dump 10.19 from MariaDB 10.11.6
)

// String returns "mysql" or "mariadb".
func (f Flavor) String() string {
	if f == MariaDB {
		return "mariadb"
	}
	return "mysql"
}

// Trailer is the last line of every generated dump that is long enough to
// hold it: mysqldump writes it only when the dump ran to completion.
const Trailer = "-- Dump completed on 2026-01-24 12:00:00\n"

const (
	// defaultBlockSize is the size of the precomputed block of INSERT lines
	// that fills the middle of large dumps.
	defaultBlockSize = 1 << 20
	// idWidth is the fixed width of wp_posts row ids in the padding rows.
	idWidth = 10
	// idModulus wraps row ids that would not fit in idWidth digits.
	idModulus = 10_000_000_000
	// postsInsert starts every padding line.
	postsInsert = "INSERT INTO `wp_posts` VALUES "
)

// Dump returns a deterministic mysqldump of a WordPress database that is
// exactly size bytes long; the same seed, size and flavor always give the
// same bytes, and different seeds give different content.
//
// A dump long enough for it has the shape mysqldump gives: the flavor's
// header and /*!40101 SET ...*/ lines, CREATE TABLE and INSERT statements for
// WordPress tables (utf8mb4 text with multibyte characters and emoji), a
// middle of extended INSERT lines into wp_posts that pads it to the exact
// size, the closing SET lines and, as its last line, Trailer. The padding
// rows carry unique ids written zero-padded to 10 digits (MySQL reads
// 0000000042 as 42) so that they can be stamped into a precomputed block.
//
// Sizes too small for header and footer are truncated sensibly: the dump
// keeps Trailer as its last line and as much of the header as fits before
// it (cut at the end of a line); below len(Trailer) bytes it is the first
// size bytes of the header. A negative size counts as 0.
//
// ReadAt needs constant memory whatever the size (about 1 MiB for a
// precomputed block of rows) and costs little more than a copy.
func Dump(seed string, size int64, flavor Flavor) Body {
	return newDump(seed, size, flavor, defaultBlockSize)
}

// dump is the Body that Dump returns. The bytes are
//
//	head | nblocks × block (ids stamped per block) | block[:prefix] | filler | foot
//
// where the middle is present only when the size leaves room for it.
type dump struct {
	size    int64
	head    []byte
	foot    []byte
	midLen  int64
	block   []byte  // whole INSERT lines; ids numbered from 1
	idOffs  []int32 // offset of each row's id digits in block, ascending
	nblocks int64   // full copies of block at the start of the middle
	prefix  int64   // bytes of block after the full copies (a line boundary)
	filler  []byte  // the last line of the middle, sized to make it exact
}

var _ Body = (*dump)(nil)

func newDump(seed string, size int64, flavor Flavor, blockSize int) *dump {
	if size < 0 {
		size = 0
	}
	g := newGen(seed)
	head := []byte(g.header(flavor))
	foot := []byte(footer(flavor))
	d := &dump{size: size}
	fixed := int64(len(head) + len(foot))
	switch {
	case size < int64(len(Trailer)):
		d.head = head[:size]
		return d
	case size < fixed:
		d.foot = []byte(Trailer)
		n := size - int64(len(Trailer))
		if n >= int64(len(head)) {
			// The whole header fits, the footer does not: blank lines
			// between header and trailer.
			d.head = head
			d.midLen = n - int64(len(head))
			d.filler = blankFill(int(d.midLen))
			return d
		}
		h := append([]byte(nil), head[:n]...)
		if n > 0 && h[n-1] != '\n' {
			h[n-1] = '\n'
		}
		d.head = h
		return d
	}
	d.head, d.foot = head, foot
	d.midLen = size - fixed
	minFill := int64(len(fillerLine(0, 0)))
	if d.midLen < minFill {
		d.filler = blankFill(int(d.midLen))
		return d
	}
	target := int64(blockSize)
	if d.midLen < target {
		target = d.midLen
	}
	var lineEnds []int32
	d.block, d.idOffs, lineEnds = g.rows(int(target))
	blockLen := int64(len(d.block))
	d.nblocks = (d.midLen - minFill) / blockLen
	rem := d.midLen - d.nblocks*blockLen
	// The largest line boundary that leaves room for the filler line.
	i := sort.Search(len(lineEnds), func(i int) bool { return int64(lineEnds[i]) > rem-minFill })
	if i > 0 {
		d.prefix = int64(lineEnds[i-1])
	}
	rowsBefore := sort.Search(len(d.idOffs), func(i int) bool { return int64(d.idOffs[i]) >= d.prefix })
	fillerID := d.nblocks*int64(len(d.idOffs)) + int64(rowsBefore) + 1
	d.filler = fillerLine(fillerID, int(rem-d.prefix-minFill))
	return d
}

// Size returns the dump's length in bytes.
func (d *dump) Size() int64 { return d.size }

// ReadAt implements io.ReaderAt. It returns io.EOF with the bytes that exist
// when p reaches past the end.
func (d *dump) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("vectorsim: read dump: negative offset")
	}
	if off >= d.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > d.size-off {
		n = int(d.size - off)
	}
	buf := p[:n]
	for len(buf) > 0 {
		c := d.fill(buf, off)
		buf = buf[c:]
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fill copies bytes starting at off into buf from the segment that holds
// off and returns how many it copied (at least one).
func (d *dump) fill(buf []byte, off int64) int {
	hl := int64(len(d.head))
	if off < hl {
		return copy(buf, d.head[off:])
	}
	m := off - hl
	if m >= d.midLen {
		return copy(buf, d.foot[m-d.midLen:])
	}
	blockLen := int64(len(d.block))
	full := d.nblocks * blockLen
	switch {
	case m < full:
		j, o := m/blockLen, m%blockLen
		c := copy(buf, d.block[o:])
		d.stamp(buf[:c], j, o)
		return c
	case m < full+d.prefix:
		o := m - full
		c := copy(buf, d.block[o:d.prefix])
		d.stamp(buf[:c], d.nblocks, o)
		return c
	default:
		return copy(buf, d.filler[m-full-d.prefix:])
	}
}

// stamp rewrites the row ids in dst, which holds block[o:o+len(dst)] of the
// block copy number j, to that copy's ids.
func (d *dump) stamp(dst []byte, j, o int64) {
	if j == 0 {
		return // the block is written with the first copy's ids
	}
	end := o + int64(len(dst))
	rows := int64(len(d.idOffs))
	i := sort.Search(len(d.idOffs), func(i int) bool { return int64(d.idOffs[i])+idWidth > o })
	var digits [idWidth]byte
	for ; i < len(d.idOffs); i++ {
		at := int64(d.idOffs[i])
		if at >= end {
			break
		}
		formatID(&digits, j*rows+int64(i)+1)
		lo, hi := max(at, o), min(at+idWidth, end)
		copy(dst[lo-o:hi-o], digits[lo-at:hi-at])
	}
}

// formatID writes id zero-padded to idWidth digits.
func formatID(dst *[idWidth]byte, id int64) {
	id %= idModulus
	for i := idWidth - 1; i >= 0; i-- {
		dst[i] = byte('0' + id%10)
		id /= 10
	}
}

func appendID(b []byte, id int64) []byte {
	var digits [idWidth]byte
	formatID(&digits, id)
	return append(b, digits[:]...)
}

// blankFill returns n bytes that are harmless to SQL: a comment line of
// spaces, or newlines when n is below four.
func blankFill(n int) []byte {
	if n < 4 {
		return []byte(strings.Repeat("\n", n))
	}
	return []byte("--" + strings.Repeat(" ", n-3) + "\n")
}

const fillerText = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "

// fillerLine returns a one-row INSERT into wp_posts whose post_content has
// exactly textLen ASCII bytes.
func fillerLine(id int64, textLen int) []byte {
	b := make([]byte, 0, 320+textLen)
	b = append(b, postsInsert+"("...)
	b = appendID(b, id)
	b = append(b, ",1,'2025-12-31 23:59:59','2025-12-31 23:59:59','"...)
	for textLen > 0 {
		n := min(textLen, len(fillerText))
		b = append(b, fillerText[:n]...)
		textLen -= n
	}
	b = append(b, "','Archive','','private','closed','closed','','archive','','','2025-12-31 23:59:59','2025-12-31 23:59:59','',0,'https://example.test/archive/',0,'post','',0);\n"...)
	return b
}

// gen is the deterministic generator behind a dump (splitmix64 seeded from
// the SHA-256 of the seed string).
type gen struct {
	state uint64
	tag   string // short hex name derived from the seed
}

func newGen(seed string) *gen {
	sum := sha256.Sum256([]byte("vectorsim dump\x00" + seed))
	return &gen{state: binary.BigEndian.Uint64(sum[:8]), tag: hex.EncodeToString(sum[8:12])}
}

func (g *gen) next() uint64 {
	g.state += 0x9e3779b97f4a7c15
	z := g.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (g *gen) intn(n int) int { return int(g.next() % uint64(n)) }

func pick[T any](g *gen, s []T) T { return s[g.intn(len(s))] }

// words mixes ASCII with multibyte text and emoji; the apostrophe is
// escaped the way mysqldump escapes it.
var words = []string{
	"the", "a", "site", "backup", "database", "coffee", "garden", "morning",
	"market", "notes", "winter", "recipe", "journey", "update", "release",
	"café", "naïve", "Zürich", "façade", "São Paulo", "Ångström", "smörgåsbord",
	"東京", "日本語", "привет", "Ελλάδα", "مرحبا", "שלום", "한국어", "中文",
	"😀", "🚀", "☕", "🎉", "👍🏽", "🇩🇪", "—", "“quoted”", "it\\'s", "don\\'t",
	"WordPress", "plugin", "theme", "block", "gallery", "comment", "archive",
}

var titleWords = []string{
	"Hello", "World", "Spring", "Sale", "Notes", "From", "Zürich", "Café",
	"Guide", "Review", "Weekly", "Digest", "Summer", "Launch", "Menu", "Team",
}

var postKinds = []struct{ status, kind, mime string }{
	{"publish", "post", ""}, {"publish", "post", ""}, {"publish", "page", ""},
	{"draft", "post", ""}, {"inherit", "revision", ""},
	{"inherit", "attachment", "image/jpeg"}, {"publish", "nav_menu_item", ""},
}

func (g *gen) date() string {
	return fmt.Sprintf("20%02d-%02d-%02d %02d:%02d:%02d",
		19+g.intn(7), 1+g.intn(12), 1+g.intn(28), g.intn(24), g.intn(60), g.intn(60))
}

func (g *gen) sentence(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pick(g, words))
	}
	return b.String()
}

// appendRow appends one wp_posts row tuple and returns the offset of its id
// digits.
func (g *gen) appendRow(b []byte, id int64) ([]byte, int) {
	title := pick(g, titleWords) + " " + pick(g, titleWords) + " " + pick(g, titleWords)
	slug := strings.ToLower(strings.NewReplacer("ü", "u", "é", "e", " ", "-").Replace(title))
	kind := pick(g, postKinds)
	created := g.date()
	var content strings.Builder
	for range 1 + g.intn(4) {
		content.WriteString("<!-- wp:paragraph -->\\n<p>")
		content.WriteString(g.sentence(8 + g.intn(40)))
		content.WriteString("</p>\\n<!-- /wp:paragraph -->\\n\\n")
	}
	b = append(b, '(')
	at := len(b)
	b = appendID(b, id)
	b = fmt.Appendf(b, ",%d,'%s','%s','%s','%s','%s','%s','open','open','','%s-%d','','','%s','%s','',0,'https://%s.example.test/%s/',0,'%s','%s',%d)",
		1+g.intn(3), created, created, content.String(), title, g.sentence(6),
		kind.status, slug, g.intn(1000), created, created, g.tag, slug, kind.kind, kind.mime, g.intn(12))
	return b, at
}

// rows returns at least target bytes of whole extended-INSERT lines into
// wp_posts with ids from 1, the offsets of the id digits, and the offset
// after each line.
func (g *gen) rows(target int) (block []byte, idOffs, lineEnds []int32) {
	block = make([]byte, 0, target+32<<10)
	var id int64 = 1
	for len(block) < target {
		block = append(block, postsInsert...)
		for r := range 4 + g.intn(9) {
			if r > 0 {
				block = append(block, ',')
			}
			var at int
			block, at = g.appendRow(block, id)
			idOffs = append(idOffs, int32(at))
			id++
		}
		block = append(block, ";\n"...)
		lineEnds = append(lineEnds, int32(len(block)))
	}
	return block, idOffs, lineEnds
}

// header returns everything before the padding rows: the flavor's preamble,
// a few small WordPress tables with their data, and the start of wp_posts.
func (g *gen) header(f Flavor) string {
	var b strings.Builder
	db := "wp_" + g.tag
	if f == MariaDB {
		b.WriteString("/*M!999999\\- enable the sandbox mode */\n")
		b.WriteString("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n--\n")
		fmt.Fprintf(&b, "-- Host: localhost    Database: %s\n", db)
		b.WriteString("-- ------------------------------------------------------\n-- Server version\t10.11.6-MariaDB-0+deb12u1\n\n")
	} else {
		b.WriteString("-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n")
		fmt.Fprintf(&b, "-- Host: localhost    Database: %s\n", db)
		b.WriteString("-- ------------------------------------------------------\n-- Server version\t8.0.36\n\n")
	}
	b.WriteString(`/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
`)
	if f == MariaDB {
		b.WriteString("/*!40101 SET NAMES utf8mb4 */;\n")
	} else {
		b.WriteString("/*!50503 SET NAMES utf8mb4 */;\n")
	}
	b.WriteString(`/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
`)
	if f == MariaDB {
		b.WriteString("/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n")
	} else {
		b.WriteString("/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n")
	}
	site := "https://" + g.tag + ".example.test"
	title := pick(g, []string{"Café Zürich ☕", "Ångström Labs 🚀", "東京 Kitchen", "Crème Brûlée Blog 🎉"})
	table(&b, f, "wp_options", 12, `  `+"`option_id`"+` %BIGINT% unsigned NOT NULL AUTO_INCREMENT,
  `+"`option_name`"+` varchar(191) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`option_value`"+` longtext COLLATE utf8mb4_unicode_520_ci NOT NULL,
  `+"`autoload`"+` varchar(20) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT 'yes',
  PRIMARY KEY (`+"`option_id`"+`),
  UNIQUE KEY `+"`option_name`"+` (`+"`option_name`"+`),
  KEY `+"`autoload`"+` (`+"`autoload`"+`)`,
		fmt.Sprintf("(1,'siteurl','%s','yes'),(2,'home','%s','yes'),(3,'blogname','%s','yes'),"+
			"(4,'blogdescription','%s','yes'),(5,'users_can_register','0','yes'),(6,'admin_email','admin@%s.example.test','yes'),"+
			"(7,'start_of_week','1','yes'),(8,'permalink_structure','/%%postname%%/','yes'),"+
			"(9,'active_plugins','a:2:{i:0;s:19:\\\"akismet/akismet.php\\\";i:1;s:9:\\\"hello.php\\\";}','yes'),"+
			"(10,'WPLANG','de_DE','yes'),(11,'timezone_string','Europe/Zurich','yes')",
			site, site, title, g.sentence(6), g.tag))
	table(&b, f, "wp_users", 2, `  `+"`ID`"+` %BIGINT% unsigned NOT NULL AUTO_INCREMENT,
  `+"`user_login`"+` varchar(60) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`user_pass`"+` varchar(255) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`user_nicename`"+` varchar(50) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`user_email`"+` varchar(100) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`user_registered`"+` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `+"`display_name`"+` varchar(250) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  PRIMARY KEY (`+"`ID`"+`),
  KEY `+"`user_login_key`"+` (`+"`user_login`"+`),
  KEY `+"`user_email`"+` (`+"`user_email`"+`)`,
		fmt.Sprintf("(1,'admin','$P$B%s0vQmZ8z1Yq3r5t7u9w.','admin','admin@%s.example.test','%s','Zoë Ångström')",
			g.tag, g.tag, g.date()))
	table(&b, f, "wp_terms", 2, `  `+"`term_id`"+` %BIGINT% unsigned NOT NULL AUTO_INCREMENT,
  `+"`name`"+` varchar(200) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`slug`"+` varchar(200) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  `+"`term_group`"+` %BIGINT% NOT NULL DEFAULT '0',
  PRIMARY KEY (`+"`term_id`"+`),
  KEY `+"`slug`"+` (`+"`slug`"+`(191)),
  KEY `+"`name`"+` (`+"`name`"+`(191))`,
		"(1,'Uncategorized','uncategorized',0)")
	b.WriteString(tableStructure(f, "wp_posts", 0, postsColumns))
	b.WriteString(dataStart("wp_posts"))
	return b.String()
}

const postsColumns = `  ` + "`ID`" + ` %BIGINT% unsigned NOT NULL AUTO_INCREMENT,
  ` + "`post_author`" + ` %BIGINT% unsigned NOT NULL DEFAULT '0',
  ` + "`post_date`" + ` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  ` + "`post_date_gmt`" + ` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  ` + "`post_content`" + ` longtext COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`post_title`" + ` text COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`post_excerpt`" + ` text COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`post_status`" + ` varchar(20) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT 'publish',
  ` + "`comment_status`" + ` varchar(20) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT 'open',
  ` + "`ping_status`" + ` varchar(20) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT 'open',
  ` + "`post_password`" + ` varchar(255) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  ` + "`post_name`" + ` varchar(200) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  ` + "`to_ping`" + ` text COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`pinged`" + ` text COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`post_modified`" + ` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  ` + "`post_modified_gmt`" + ` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  ` + "`post_content_filtered`" + ` longtext COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ` + "`post_parent`" + ` %BIGINT% unsigned NOT NULL DEFAULT '0',
  ` + "`guid`" + ` varchar(255) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  ` + "`menu_order`" + ` int NOT NULL DEFAULT '0',
  ` + "`post_type`" + ` varchar(20) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT 'post',
  ` + "`post_mime_type`" + ` varchar(100) COLLATE utf8mb4_unicode_520_ci NOT NULL DEFAULT '',
  ` + "`comment_count`" + ` %BIGINT% NOT NULL DEFAULT '0',
  PRIMARY KEY (` + "`ID`" + `),
  KEY ` + "`post_name`" + ` (` + "`post_name`" + `(191)),
  KEY ` + "`type_status_date`" + ` (` + "`post_type`" + `,` + "`post_status`" + `,` + "`post_date`" + `,` + "`ID`" + `),
  KEY ` + "`post_parent`" + ` (` + "`post_parent`" + `),
  KEY ` + "`post_author`" + ` (` + "`post_author`" + `)`

const postmetaColumns = `  ` + "`meta_id`" + ` %BIGINT% unsigned NOT NULL AUTO_INCREMENT,
  ` + "`post_id`" + ` %BIGINT% unsigned NOT NULL DEFAULT '0',
  ` + "`meta_key`" + ` varchar(255) COLLATE utf8mb4_unicode_520_ci DEFAULT NULL,
  ` + "`meta_value`" + ` longtext COLLATE utf8mb4_unicode_520_ci,
  PRIMARY KEY (` + "`meta_id`" + `),
  KEY ` + "`post_id`" + ` (` + "`post_id`" + `),
  KEY ` + "`meta_key`" + ` (` + "`meta_key`" + `(191))`

// tableStructure renders mysqldump's "Table structure" section. Integer
// columns show a display width on MariaDB and none on MySQL 8.
func tableStructure(f Flavor, name string, autoIncrement int, columns string) string {
	bigint := "bigint"
	if f == MariaDB {
		bigint = "bigint(20)"
	}
	columns = strings.ReplaceAll(columns, "%BIGINT%", bigint)
	if f == MariaDB {
		columns = strings.ReplaceAll(columns, " int NOT NULL", " int(11) NOT NULL")
	}
	ai := ""
	if autoIncrement > 0 {
		ai = fmt.Sprintf(" AUTO_INCREMENT=%d", autoIncrement)
	}
	setClient := "/*!50503 SET character_set_client = utf8mb4 */;\n"
	if f == MariaDB {
		setClient = "/*!40101 SET character_set_client = utf8mb4 */;\n"
	}
	return "--\n-- Table structure for table `" + name + "`\n--\n\n" +
		"DROP TABLE IF EXISTS `" + name + "`;\n" +
		"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n" + setClient +
		"CREATE TABLE `" + name + "` (\n" + columns + "\n) ENGINE=InnoDB" + ai +
		" DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;\n" +
		"/*!40101 SET character_set_client = @saved_cs_client */;\n\n"
}

func dataStart(name string) string {
	return "--\n-- Dumping data for table `" + name + "`\n--\n\n" +
		"LOCK TABLES `" + name + "` WRITE;\n" +
		"/*!40000 ALTER TABLE `" + name + "` DISABLE KEYS */;\n"
}

func dataEnd(name string) string {
	return "/*!40000 ALTER TABLE `" + name + "` ENABLE KEYS */;\nUNLOCK TABLES;\n\n"
}

// table writes a whole small table: structure, then its rows in one INSERT.
func table(b *strings.Builder, f Flavor, name string, autoIncrement int, columns, values string) {
	b.WriteString(tableStructure(f, name, autoIncrement, columns))
	b.WriteString(dataStart(name))
	b.WriteString("INSERT INTO `" + name + "` VALUES " + values + ";\n")
	b.WriteString(dataEnd(name))
}

// footer returns everything after the padding rows; it does not depend on
// the seed, so its length is fixed per flavor.
func footer(f Flavor) string {
	var b strings.Builder
	b.WriteString(dataEnd("wp_posts"))
	table(&b, f, "wp_postmeta", 3, postmetaColumns,
		"(1,2,'_wp_page_template','default'),(2,3,'_wp_attached_file','2025/01/café-☕.jpg')")
	b.WriteString("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n")
	b.WriteString(`/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
`)
	if f == MariaDB {
		b.WriteString("/*M!100616 SET NOTE_VERBOSITY=@OLD_NOTE_VERBOSITY */;\n")
	} else {
		b.WriteString("/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n")
	}
	b.WriteString("\n" + Trailer)
	return b.String()
}
