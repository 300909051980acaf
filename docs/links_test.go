// Package docs_test checks the documentation in README.md and docs/*.md:
// every relative link must lead to a file or directory of the repository,
// and a link with a #fragment into a markdown page to one of its headings.
// The pages are read as files; nothing is fetched.
package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// pages returns README.md and docs/*.md, relative to the repository root.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md pages found")
	}
	return append([]string{filepath.Join("..", "README.md")}, docs...)
}

var (
	fence = regexp.MustCompile("^\\s*(```|~~~)")
	// inlineLink matches [text](target) and ![alt](target), target without
	// spaces, optionally followed by a "title".
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// refDef matches a reference definition: [label]: target
	refDef    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+(\S+)`)
	codeSpan  = regexp.MustCompile("`[^`]*`")
	heading   = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlID    = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	urlScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	// headingLink is a link inside a heading, whose text counts for the anchor.
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// link is one link target found on a page, with the line it is on.
type link struct {
	line   int
	target string
}

// prose calls fn for every line of md outside fenced code blocks, with
// code spans blanked out, so links shown as code are not checked.
func prose(md string, fn func(line int, text string)) {
	inFence := false
	for i, l := range strings.Split(md, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
			continue
		}
		if !inFence {
			fn(i+1, codeSpan.ReplaceAllString(l, "``"))
		}
	}
}

func links(md string) []link {
	var out []link
	prose(md, func(n int, l string) {
		for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
			out = append(out, link{n, m[1]})
		}
		if m := refDef.FindStringSubmatch(l); m != nil {
			out = append(out, link{n, m[1]})
		}
	})
	return out
}

// anchors returns the fragment ids GitHub gives the headings of md (and
// any explicit <a id> or <a name>), numbering repeats as GitHub does.
func anchors(md string) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	prose(md, func(_ int, l string) {
		for _, m := range htmlID.FindAllStringSubmatch(l, -1) {
			ids[m[1]] = true
		}
	})
	inFence := false
	for _, l := range strings.Split(md, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
			continue
		}
		m := heading.FindStringSubmatch(l)
		if inFence || m == nil {
			continue
		}
		id := slug(m[2])
		if n := seen[id]; n > 0 {
			ids[fmt.Sprintf("%s-%d", id, n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}

// slug is GitHub's heading anchor: lower case; letters, digits, '-' and
// '_' kept; spaces become '-'; everything else (punctuation, backticks) is
// dropped. Link text of a heading counts, its target does not.
func slug(h string) string {
	h = headingLink.ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for h, want := range map[string]string{
		"Reading CloudTrail from S3":           "reading-cloudtrail-from-s3",
		"`iamsentry replay`":                   "iamsentry-replay",
		"`iamsentry scan` (backtesting)":       "iamsentry-scan-backtesting",
		"TLS, mutual TLS, bearer tokens":       "tls-mutual-tls-bearer-tokens",
		"OTEL_* environment variables":         "otel_-environment-variables",
		"Fluent Bit: its OpenTelemetry output": "fluent-bit-its-opentelemetry-output",
		"Shared state: Redis":                  "shared-state-redis",
		"`iamsentry config validate FILE`":     "iamsentry-config-validate-file",
	} {
		if got := slug(h); got != want {
			t.Errorf("slug(%q) = %q, want %q", h, got, want)
		}
	}
}

// TestDocsLinksResolve fails for every relative link in README.md and
// docs/*.md that names a missing file, or a missing heading of a page.
func TestDocsLinksResolve(t *testing.T) {
	texts := map[string]string{}              // cleaned path -> contents, for anchors
	anchorsOf := map[string]map[string]bool{} // cleaned path -> its anchors
	read := func(path string) (string, error) {
		if s, ok := texts[path]; ok {
			return s, nil
		}
		b, err := os.ReadFile(path)
		texts[path] = string(b)
		return string(b), err
	}
	checked := 0
	for _, page := range pages(t) {
		md, err := read(filepath.Clean(page))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(md) {
			if urlScheme.MatchString(l.target) || strings.HasPrefix(l.target, "//") {
				continue // absolute: not checked here (no network in tests)
			}
			checked++
			where := fmt.Sprintf("%s:%d: link %q", strings.TrimPrefix(page, "../"), l.line, l.target)
			file, frag, _ := strings.Cut(l.target, "#")
			path := filepath.Clean(page)
			if file != "" {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if rel, err := filepath.Rel("..", path); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s leaves the repository", where)
					continue
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: no such file or directory in the repository", where)
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: a #fragment can only be checked on a markdown page", where)
				continue
			}
			target, err := read(path)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			ids, ok := anchorsOf[path]
			if !ok {
				ids = anchors(target) // once a page: performance.md alone has hundreds of links into itself
				anchorsOf[path] = ids
			}
			if !ids[frag] {
				t.Errorf("%s: %s has no heading with anchor #%s (it has: %s)", where,
					strings.TrimPrefix(path, "../"), frag, strings.Join(sortedKeys(ids), ", "))
			}
		}
	}
	if checked == 0 {
		t.Error("no relative links found: the link extraction is broken")
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// repoPath is a code span that looks like a path in the repository:
// segments of file-name characters joined by '/', nothing else.
var repoPath = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.@-]+)+/?$|^[A-Za-z0-9_.-]+/$`)

// TestDocsNamedPathsExist fails when README.md or docs/*.md names, in a
// code span, a path under one of the repository's top-level directories
// that does not exist: a file moved without its documentation. Build
// output (bin/) is exempt; paths under top-level directories that do not
// exist are not judged (they are not the repository's).
func TestDocsNamedPathsExist(t *testing.T) {
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	tops := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "bin" {
			tops[e.Name()] = true
		}
	}
	for _, page := range pages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		inFence := false
		for n, l := range strings.Split(string(b), "\n") {
			if fence.MatchString(l) {
				inFence = !inFence
				continue
			}
			if inFence {
				continue
			}
			for _, span := range codeSpan.FindAllString(l, -1) {
				p := strings.Trim(span, "`")
				top, _, _ := strings.Cut(p, "/")
				if !repoPath.MatchString(p) || !tops[top] {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", filepath.FromSlash(p))); err != nil {
					t.Errorf("%s:%d names %s, which is not in the repository", strings.TrimPrefix(page, "../"), n+1, span)
				}
			}
		}
	}
}
