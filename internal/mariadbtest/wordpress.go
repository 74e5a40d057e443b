package mariadbtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// WordPress shapes a generated WordPress-like database. Zero fields take
// the defaults.
type WordPress struct {
	Posts     int // rows of wp_posts, each with two wp_postmeta rows; default 3000
	Options   int // rows of wp_options besides a large one; default 500
	LargeRows int // posts with a post_content of LargeSize bytes; default 3, negative for none
	LargeSize int // default 1.25 MiB
	Seed      uint64
}

func (w WordPress) withDefaults() WordPress {
	if w.Posts == 0 {
		w.Posts = 3000
	}
	if w.Options == 0 {
		w.Options = 500
	}
	if w.LargeRows == 0 {
		w.LargeRows = 3
	}
	if w.LargeSize == 0 {
		w.LargeSize = 5 << 18
	}
	return w
}

// CreateWordPress creates database db (utf8mb4) with WordPress's main tables
// — wp_options, wp_posts, wp_postmeta, wp_users, wp_comments — filled with
// deterministic content: multibyte text and emoji, quotes, backslashes and
// control characters, a few rows of LargeSize bytes and an option value of
// about 1.5 MiB; plus a trigger and a stored function, so that a dump must
// carry routines and triggers.
func (s *Server) CreateWordPress(ctx context.Context, db string, w WordPress) error {
	w = w.withDefaults()
	var b bytes.Buffer
	q := quoteName(db)
	fmt.Fprintf(&b, "CREATE DATABASE %s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\nUSE %s;\n", q, q)
	b.WriteString(wordpressSchema)
	g := &generator{r: rand.New(rand.NewPCG(w.Seed, 0x5eed))}
	base := time.Date(2019, 4, 1, 8, 0, 0, 0, time.UTC)

	var rows []string
	flush := func(table, cols string) {
		for len(rows) > 0 {
			n := min(len(rows), 100)
			fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES\n%s;\n", table, cols, strings.Join(rows[:n], ",\n"))
			rows = rows[n:]
		}
	}

	for i := 1; i <= 20; i++ {
		rows = append(rows, fmt.Sprintf("(%d,%s,%s,%s,'%s')", i, lit(fmt.Sprintf("user%02d", i)),
			lit(fmt.Sprintf("user%02d@example.com", i)), lit(g.words(3)), base.Add(time.Duration(i)*time.Hour).Format(time.DateTime)))
	}
	flush("wp_users", "ID,user_login,user_email,display_name,user_registered")

	for i := 1; i <= w.Options; i++ {
		rows = append(rows, fmt.Sprintf("(%s,%s,%s)", lit(fmt.Sprintf("option_%04d", i)), lit(g.serialized(i)), lit([]string{"yes", "no"}[i%2])))
	}
	rows = append(rows, fmt.Sprintf("('rewrite_rules_cache',%s,'no')", lit(g.large(3<<19))))
	flush("wp_options", "option_name,option_value,autoload")

	for i := 1; i <= w.Posts; i++ {
		content := g.paragraphs(1 + g.r.IntN(4))
		if step := max(1, w.Posts/max(1, w.LargeRows)); w.LargeRows > 0 && i%step == 0 && i/step <= w.LargeRows {
			content = g.large(w.LargeSize)
		}
		at := base.Add(time.Duration(i) * 37 * time.Minute)
		title := g.words(2 + g.r.IntN(6))
		rows = append(rows, fmt.Sprintf("(%d,%d,'%s',%s,%s,%s,'%s',%s,'%s','%s',%s)", i, 1+i%20, at.Format(time.DateTime),
			lit(content), lit(title), lit(g.words(12)), []string{"publish", "draft", "private"}[i%3],
			lit(fmt.Sprintf("post-%d", i)), at.Add(time.Hour).Format(time.DateTime), []string{"post", "page", "attachment"}[i%3],
			lit(fmt.Sprintf("https://example.com/?p=%d", i))))
	}
	flush("wp_posts", "ID,post_author,post_date,post_content,post_title,post_excerpt,post_status,post_name,post_modified,post_type,guid")

	for i := 1; i <= w.Posts; i++ {
		rows = append(rows, fmt.Sprintf("(%d,'_edit_lock',%s)", i, lit(fmt.Sprintf("%d:1", 1700000000+i))),
			fmt.Sprintf("(%d,' _custom_note ',%s)", i, lit(g.words(5))))
	}
	flush("wp_postmeta", "post_id,meta_key,meta_value")

	for i := 1; i <= w.Posts/3; i++ {
		rows = append(rows, fmt.Sprintf("(%d,%s,%s,'%s')", 1+g.r.IntN(w.Posts), lit(g.words(2)), lit(g.paragraphs(1)),
			base.Add(time.Duration(i)*time.Hour).Format(time.DateTime)))
	}
	flush("wp_comments", "comment_post_ID,comment_author,comment_content,comment_date")
	b.WriteString(wordpressRoutines)
	if err := s.Exec(ctx, "", &b); err != nil {
		return fmt.Errorf("create WordPress database %s: %w", db, err)
	}
	return nil
}

const wordpressSchema = `
CREATE TABLE wp_users (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_login varchar(60) NOT NULL DEFAULT '',
  user_email varchar(100) NOT NULL DEFAULT '',
  display_name varchar(250) NOT NULL DEFAULT '',
  user_registered datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (ID),
  KEY user_login_key (user_login)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE wp_options (
  option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name),
  KEY autoload (autoload)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE wp_posts (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  post_name varchar(200) NOT NULL DEFAULT '',
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_type varchar(20) NOT NULL DEFAULT 'post',
  guid varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (ID),
  KEY post_name (post_name(191)),
  KEY type_status_date (post_type,post_status,post_date,ID),
  KEY post_author (post_author)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE wp_postmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (meta_id),
  KEY post_id (post_id),
  KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE wp_comments (
  comment_ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_post_ID bigint(20) unsigned NOT NULL DEFAULT 0,
  comment_author tinytext NOT NULL,
  comment_content text NOT NULL,
  comment_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (comment_ID),
  KEY comment_post_ID (comment_post_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
`

// wordpressRoutines are created after the data, so the trigger's effect on
// the inserted rows is not part of it (as in a dump).
const wordpressRoutines = `
CREATE TRIGGER wp_postmeta_trim BEFORE INSERT ON wp_postmeta FOR EACH ROW SET NEW.meta_key = TRIM(NEW.meta_key);
CREATE FUNCTION wp_published_posts() RETURNS bigint READS SQL DATA RETURN (SELECT COUNT(*) FROM wp_posts WHERE post_status = 'publish');
`

// fragments are the generated text's pieces: several scripts, emoji
// (including a ZWJ sequence and a flag), quotes, backslashes, tabs,
// newlines, a NUL and SQL-looking text.
var fragments = []string{
	"Grüße aus Köln", "naïve café ☕", "日本語のテキスト", "Ελληνικά γράμματα", "עברית", "العربية",
	"emoji 🎉🚀", "👩‍💻 at work", "🇩🇪🇯🇵", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "it's \"quoted\"", `C:\path\to\file`, "tab\there",
	"line\r\nbreak", "nul\x00byte", "'; DROP TABLE wp_posts; --", "<p>HTML &amp; entities</p>", "100% \\% _like_",
	"lorem", "ipsum", "dolor", "sit", "amet", "WordPress", "backup", "restore",
}

type generator struct{ r *rand.Rand }

func (g *generator) words(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fragments[g.r.IntN(len(fragments))]
	}
	return strings.Join(parts, " ")
}

func (g *generator) paragraphs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "<!-- wp:paragraph -->\n<p>%s</p>\n<!-- /wp:paragraph -->\n\n", g.words(20+g.r.IntN(60)))
	}
	return b.String()
}

// large returns about size bytes of varied text.
func (g *generator) large(size int) string {
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(g.paragraphs(1))
	}
	return b.String()
}

// serialized returns a PHP-serialized array, as plugins store options.
func (g *generator) serialized(i int) string {
	v := g.words(1 + g.r.IntN(4))
	return fmt.Sprintf(`a:2:{s:2:"id";i:%d;s:5:"value";s:%d:"%s";}`, i, len(v), v)
}

// lit quotes s as a MySQL string literal.
func lit(s string) string {
	return "'" + literalEscaper.Replace(s) + "'"
}

var literalEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
