//go:build !container

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is where README.md and docs/ are, from this package's directory.
const repoRoot = "../../.."

// docFiles are the pages a newcomer reads: README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	return append([]string{filepath.Join(repoRoot, "README.md")}, pages...)
}

// docLine is one line of a page outside code, or one command line of a
// shell block, with its place for messages.
type docLine struct {
	file string
	n    int
	text string
}

// readDoc splits a page into prose lines (fenced code and inline code
// removed, since links there are not links) and the lines of its ```sh
// blocks, continuation lines joined.
func readDoc(t *testing.T, path string) (prose, shell []docLine) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	name, _ := filepath.Rel(repoRoot, path)
	sc := bufio.NewScanner(f)
	fence, lang, n := "", "", 0
	var cont *docLine
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence, lang = trimmed[:3], strings.TrimSpace(trimmed[3:])
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
				continue
			}
			if lang != "sh" && lang != "bash" && lang != "shell" {
				continue
			}
			if cont != nil {
				cont.text += " " + trimmed
			} else {
				shell = append(shell, docLine{name, n, trimmed})
				cont = &shell[len(shell)-1]
			}
			if strings.HasSuffix(cont.text, "\\") {
				cont.text = strings.TrimSuffix(cont.text, "\\")
			} else {
				cont = nil
			}
			continue
		}
		prose = append(prose, docLine{name, n, inlineCode.ReplaceAllString(line, "")})
	}
	require.NoError(t, sc.Err())
	require.Empty(t, fence, "%s: a code block is not closed", name)
	return prose, shell
}

var (
	inlineCode = regexp.MustCompile("`[^`]*`")
	// [text](target "title") and ![alt](target); the text may hold an image.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// [label]: target
	refLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)`)
	scheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	// VAR=value before a command
	assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// Every relative link of README.md and docs/*.md names a file or
// directory of the repository, without an anchor (anchors are not checked,
// so they would rot unseen).
func TestDocsLinks(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	checked := 0
	for _, path := range docFiles(t) {
		prose, _ := readDoc(t, path)
		for _, l := range prose {
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(l.text, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(l.text); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if scheme.MatchString(target) {
					continue // a web address
				}
				checked++
				at := l.file + ":" + strconv.Itoa(l.n) + ": " + target
				if strings.Contains(target, "#") {
					t.Errorf("%s: link to the file, without an anchor", at)
					continue
				}
				abs := filepath.Join(filepath.Dir(filepath.Join(root, l.file)), filepath.FromSlash(target))
				if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s: outside the repository", at)
					continue
				}
				if _, err := os.Stat(abs); err != nil {
					t.Errorf("%s: no such file in the repository", at)
				}
			}
		}
	}
	assert.Positive(t, checked, "no relative link found: is the parser still right?")
}

// Every command line in a ```sh block that runs the CLI names a real
// command with flags, scenarios and knob values the CLI accepts: each is
// parsed by the command's own parser, and nothing runs.
func TestDocsCommands(t *testing.T) {
	checked := 0
	for _, path := range docFiles(t) {
		_, shell := readDoc(t, path)
		for _, l := range shell {
			args, ok := cliArgs(l.text)
			if !ok {
				continue
			}
			checked++
			at := l.file + ":" + strconv.Itoa(l.n) + ": " + l.text
			if len(args) == 0 {
				t.Errorf("%s: no command", at)
				continue
			}
			check, ok := argChecks[args[0]]
			if !ok {
				t.Errorf("%s: tcplab has no command %q", at, args[0])
				continue
			}
			if err := check(args[1:]); err != nil {
				t.Errorf("%s: %v", at, err)
			}
		}
	}
	assert.Positive(t, checked, "no tcplab command found in a sh block: is the parser still right?")
}

// cliArgs returns the arguments of a shell line that runs the CLI
// (tcplab … or go run ./lab/cmd/tcplab …, after any VAR=value
// assignments), up to a comment, redirection, pipe or list operator.
func cliArgs(line string) ([]string, bool) {
	words := shellWords(line)
	for len(words) > 0 && assignment.MatchString(words[0]) {
		words = words[1:]
	}
	switch {
	case len(words) >= 1 && words[0] == "tcplab":
		return words[1:], true
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./lab/cmd/tcplab":
		return words[3:], true
	}
	return nil, false
}

// shellWords splits a line as sh would for these simple lines: quotes
// group, and an unquoted #, >, <, |, ; or & ends the command.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strings.ContainsRune("><|;&", r) || (r == '#' && !inWord):
			if inWord && !strings.ContainsRune("><", r) {
				words = append(words, w.String())
			}
			return words // 2> drops its "2" with the word: never an argument here
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		line string
		args []string
		cli  bool
	}{
		{"tcplab list", []string{"list"}, true},
		{"go run ./lab/cmd/tcplab run backlog-full --vary server.somaxconn=16,128   # a sweep", []string{"run", "backlog-full", "--vary", "server.somaxconn=16,128"}, true},
		{"go run ./lab/cmd/tcplab compose > docker-compose.yml", []string{"compose"}, true},
		{"TCPLAB_PLATFORM=linux/arm64 go run ./lab/cmd/tcplab run read-partial", []string{"run", "read-partial"}, true},
		{`tcplab run read-partial --set 'impair.rtt=10ms' 2>&1 | tee log`, []string{"run", "read-partial", "--set", "impair.rtt=10ms"}, true},
		{"docker compose up", nil, false},
		{"go test ./...", nil, false},
	} {
		args, ok := cliArgs(tc.line)
		assert.Equal(t, tc.cli, ok, tc.line)
		assert.Equal(t, tc.args, args, tc.line)
	}
}

// The usage text lists every command the docs may name, and no other.
func TestUsageNamesEveryCommand(t *testing.T) {
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z0-9-]*)`).FindAllStringSubmatch(usage+hostUsage, -1) {
		if !slices.Contains(listed, m[1]) {
			listed = append(listed, m[1])
		}
	}
	var known []string
	for c := range argChecks {
		known = append(known, c)
	}
	sort.Strings(listed)
	sort.Strings(known)
	assert.Equal(t, known, listed)
}
