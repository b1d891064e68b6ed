package scenarios_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// resultsDoc is the result schema's page; it lists every informational
// figure, the ones no verdict pins.
const resultsDoc = "../../docs/results.md"

// TestInformationalFiguresListed keeps the schema page's list of
// informational figures (`tcplab:"info"`) true: every tagged field is
// there as "`scenario`: `path`", and nothing else is.
func TestInformationalFiguresListed(t *testing.T) {
	b, err := os.ReadFile(resultsDoc)
	require.NoError(t, err)
	doc := string(b)
	want := map[string]bool{}
	for _, sc := range scenarios.All() {
		for _, p := range infoPaths(reflect.TypeOf(sc.Obs()), "") {
			want["`"+sc.ID+"`: `"+p+"`"] = true
		}
	}
	for _, p := range infoPaths(reflect.TypeFor[impair.Network](), "") {
		want["`network`: `"+p+"`"] = true
	}
	for line := range want {
		assert.Contains(t, doc, line, "docs/results.md does not list the informational figure %s", line)
	}
	_, list, ok := strings.Cut(doc, "### Informational figures")
	require.True(t, ok, "docs/results.md has no \"### Informational figures\" section")
	list, _, _ = strings.Cut(list, "\n#")
	for _, l := range strings.Split(list, "\n") {
		if entry, ok := strings.CutPrefix(l, "- "); ok {
			entry, _, _ = strings.Cut(entry, " — ")
			assert.True(t, want[entry], "docs/results.md lists %s, which is not tagged info", entry)
		}
	}
}

// infoPaths lists the JSON paths of t's fields tagged info.
func infoPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		if has(strings.Split(f.Tag.Get("tcplab"), ","), "info") {
			out = append(out, p)
			continue
		}
		out = append(out, infoPaths(f.Type, p)...)
	}
	return out
}
