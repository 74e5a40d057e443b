package codec_test

import (
	"io"
	"math/rand/v2"
	"strconv"
)

// sqlDump reads as n bytes of mysqldump output of a WordPress site: table
// definitions, then extended INSERT statements with varied rows (post
// bodies, meta values, serialized options, password hashes, addresses).
// Its memory does not grow with n, and after the first statements it
// allocates nothing.
type sqlDump struct {
	rng   *rand.Rand
	words []string
	left  int64
	buf   []byte
	off   int
	stmt  int
	id    int64
}

func newSQLDump(n int64, seed uint64) *sqlDump {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	syllables := []string{"ka", "lo", "re", "mi", "sun", "tor", "vel", "an", "qu", "is", "pra", "den", "ti", "wo", "ber", "ex", "ly", "on", "ma", "gen"}
	words := make([]string, 1500)
	for i := range words {
		w := ""
		for range 1 + rng.IntN(4) {
			w += syllables[rng.IntN(len(syllables))]
		}
		words[i] = w
	}
	return &sqlDump{rng: rng, words: words, left: n, buf: make([]byte, 0, 256<<10), id: 1}
}

func (d *sqlDump) Read(p []byte) (int, error) {
	if d.left <= 0 {
		return 0, io.EOF
	}
	if d.off == len(d.buf) {
		d.fill()
	}
	n := copy(p[:min(int64(len(p)), d.left)], d.buf[d.off:])
	d.off += n
	d.left -= int64(n)
	return n, nil
}

const dumpHeader = "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n" +
	"--\n-- Host: localhost    Database: wordpress\n" +
	"-- ------------------------------------------------------\n" +
	"-- Server version\t8.0.36\n\n" +
	"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n" +
	"/*!50503 SET NAMES utf8mb4 */;\n" +
	"/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\n" +
	"DROP TABLE IF EXISTS `wp_posts`;\n" +
	"CREATE TABLE `wp_posts` (\n  `ID` bigint unsigned NOT NULL AUTO_INCREMENT,\n" +
	"  `post_author` bigint unsigned NOT NULL DEFAULT '0',\n" +
	"  `post_date` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',\n" +
	"  `post_content` longtext COLLATE utf8mb4_unicode_520_ci NOT NULL,\n" +
	"  `post_title` text COLLATE utf8mb4_unicode_520_ci NOT NULL,\n" +
	"  PRIMARY KEY (`ID`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;\n\n"

func (d *sqlDump) fill() {
	b := d.buf[:0]
	if d.stmt == 0 {
		b = append(b, dumpHeader...)
	}
	d.stmt++
	switch d.stmt % 5 {
	case 0:
		b = append(b, "INSERT INTO `wp_posts` VALUES "...)
		for i := range 20 {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.post(b)
		}
	case 1:
		b = append(b, "INSERT INTO `wp_postmeta` VALUES "...)
		for i := range 200 {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.postmeta(b)
		}
	case 2:
		b = append(b, "INSERT INTO `wp_options` VALUES "...)
		for i := range 60 {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.option(b)
		}
	case 3:
		b = append(b, "INSERT INTO `wp_users` VALUES "...)
		for i := range 80 {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.user(b)
		}
	case 4:
		b = append(b, "INSERT INTO `wp_comments` VALUES "...)
		for i := range 80 {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.comment(b)
		}
	}
	b = append(b, ";\n"...)
	d.buf, d.off = b, 0
}

func (d *sqlDump) nextID() int64 { d.id++; return d.id }

// word picks a word, the frequent ones more often.
func (d *sqlDump) word() string { return d.words[d.rng.IntN(d.rng.IntN(len(d.words))+1)] }

func (d *sqlDump) text(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, d.word()...)
		if d.rng.IntN(12) == 0 {
			b = append(b, '.')
		}
	}
	return b
}

func (d *sqlDump) date(b []byte) []byte {
	b = append(b, '\'')
	b = strconv.AppendInt(b, int64(2015+d.rng.IntN(10)), 10)
	b = append(b, '-')
	b = two(b, 1+d.rng.IntN(12))
	b = append(b, '-')
	b = two(b, 1+d.rng.IntN(28))
	b = append(b, ' ')
	b = two(b, d.rng.IntN(24))
	b = append(b, ':')
	b = two(b, d.rng.IntN(60))
	b = append(b, ':')
	b = two(b, d.rng.IntN(60))
	return append(b, '\'')
}

func two(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func (d *sqlDump) hex(b []byte, n int) []byte {
	const digits = "0123456789abcdef"
	for range n {
		b = append(b, digits[d.rng.IntN(16)])
	}
	return b
}

func (d *sqlDump) post(b []byte) []byte {
	id := d.nextID()
	b = append(b, '(')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(1+d.rng.IntN(12)), 10)
	b = append(b, ',')
	b = d.date(b)
	b = append(b, ',')
	b = d.date(b)
	b = append(b, ",'<!-- wp:paragraph -->\\n<p>"...)
	for i := range 1 + d.rng.IntN(6) {
		if i > 0 {
			b = append(b, "</p>\\n<!-- /wp:paragraph -->\\n\\n<!-- wp:paragraph -->\\n<p>"...)
		}
		b = d.text(b, 20+d.rng.IntN(80))
	}
	b = append(b, "</p>\\n<!-- /wp:paragraph -->','"...)
	b = d.text(b, 2+d.rng.IntN(6))
	b = append(b, "','','publish','open','open','','"...)
	b = d.text(b, 1)
	b = append(b, '-')
	b = d.text(b, 1)
	b = append(b, "','','',"...)
	b = d.date(b)
	b = append(b, ',')
	b = d.date(b)
	b = append(b, ",'',0,'https://example.com/?p="...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, "',0,'post','',0)"...)
}

var metaKeys = []string{"_edit_lock", "_edit_last", "_thumbnail_id", "_wp_page_template", "_wp_attached_file", "_yoast_wpseo_metadesc", "_elementor_version", "_price", "_stock_status", "total_sales"}

func (d *sqlDump) postmeta(b []byte) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, d.nextID(), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(1+d.rng.IntN(50000)), 10)
	b = append(b, ",'"...)
	k := d.rng.IntN(len(metaKeys))
	b = append(b, metaKeys[k]...)
	b = append(b, "','"...)
	switch k {
	case 0:
		b = strconv.AppendInt(b, 1600000000+d.rng.Int64N(100000000), 10)
		b = append(b, ":1"...)
	case 4:
		b = strconv.AppendInt(b, int64(2015+d.rng.IntN(10)), 10)
		b = append(b, '/')
		b = two(b, 1+d.rng.IntN(12))
		b = append(b, '/')
		b = d.text(b, 1)
		b = append(b, "-scaled.jpg"...)
	case 5:
		b = d.text(b, 10+d.rng.IntN(15))
	case 7:
		b = strconv.AppendInt(b, int64(d.rng.IntN(500)), 10)
		b = append(b, ".99"...)
	default:
		b = strconv.AppendInt(b, int64(d.rng.IntN(10000)), 10)
	}
	return append(b, "')"...)
}

func (d *sqlDump) option(b []byte) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, d.nextID(), 10)
	b = append(b, ",'"...)
	b = d.text(b, 1)
	b = append(b, '_')
	b = d.text(b, 1)
	b = append(b, "','a:3:{s:7:\\\"version\\\";s:5:\\\""...)
	b = strconv.AppendInt(b, int64(d.rng.IntN(10)), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(d.rng.IntN(30)), 10)
	b = append(b, ".0\\\";s:4:\\\"hash\\\";s:32:\\\""...)
	b = d.hex(b, 32)
	b = append(b, "\\\";s:7:\\\"enabled\\\";b:1;}','"...)
	if d.rng.IntN(3) == 0 {
		b = append(b, "no"...)
	} else {
		b = append(b, "yes"...)
	}
	return append(b, "')"...)
}

func (d *sqlDump) user(b []byte) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, d.nextID(), 10)
	b = append(b, ",'"...)
	b = d.text(b, 1)
	b = strconv.AppendInt(b, int64(d.rng.IntN(1000)), 10)
	b = append(b, "','$wp$2y$10$"...)
	const base64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 53 {
		b = append(b, base64[d.rng.IntN(len(base64))])
	}
	b = append(b, "','"...)
	b = d.text(b, 1)
	b = append(b, "','"...)
	b = d.text(b, 1)
	b = append(b, '@')
	b = d.text(b, 1)
	b = append(b, ".com','',"...)
	b = d.date(b)
	b = append(b, ",'',0,'"...)
	b = d.text(b, 2)
	return append(b, "')"...)
}

func (d *sqlDump) comment(b []byte) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, d.nextID(), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(1+d.rng.IntN(50000)), 10)
	b = append(b, ",'"...)
	b = d.text(b, 2)
	b = append(b, "','"...)
	b = d.text(b, 1)
	b = append(b, "@example.org','','"...)
	for i := range 4 {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(d.rng.IntN(256)), 10)
	}
	b = append(b, "',"...)
	b = d.date(b)
	b = append(b, ',')
	b = d.date(b)
	b = append(b, ",'"...)
	b = d.text(b, 5+d.rng.IntN(60))
	b = append(b, "',0,'1','Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36','comment',0,0)"...)
	return b
}
