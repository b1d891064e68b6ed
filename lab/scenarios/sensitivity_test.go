package scenarios_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// recorded holds results of real runs on a native Linux host, one file per
// run of each scenario's report cases, written by scripts/record.sh. The
// verdicts are pure functions, so these judge them again without Docker.
// NAME.compose.json files are results `docker compose up` wrote to
// ./results: judged in their containers by the same function, so their
// checks must come out identical here too (record.sh drops them with their
// scenario's other files; copy fresh ones from a compose run).
const recorded = "testdata/recorded"

// refresh is the one command that records them again.
const refresh = "scripts/record.sh"

// TestSensitivity proves that every verdict pins its number: each recorded
// result passes its scenario's verdicts, and every numeric figure the
// verdicts read, doubled or halved (and moved by one where the kernel fixes
// it exactly), makes at least one check fail. The figures are found by
// walking the observation types, so a field added later is covered without
// anyone listing it; a field that is only informational says so with the
// struct tag `tcplab:"info"`.
func TestSensitivity(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(recorded, "*.json"))
	require.NoError(t, err)
	byScenario := map[string][]string{}
	for _, f := range files {
		if filepath.Base(f) == "report.json" {
			continue
		}
		r := readResult(t, f)
		byScenario[r.Scenario] = append(byScenario[r.Scenario], f)
	}
	for _, sc := range scenarios.All() {
		t.Run(sc.ID, func(t *testing.T) {
			require.NotNil(t, sc.Verdicts, "%s has no Verdicts", sc.ID)
			requireHeadline(t, reflect.TypeOf(sc.Obs()).Elem())
			require.NotEmpty(t, byScenario[sc.ID], "no recorded result of %s in %s: run %s %s", sc.ID, recorded, refresh, sc.ID)
			for _, f := range byScenario[sc.ID] {
				t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
					sensitive(t, sc, caseOf(f), readResult(t, f))
				})
			}
		})
	}
}

func readResult(t *testing.T, path string) *scenario.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r scenario.Result
	require.NoError(t, json.Unmarshal(b, &r), path)
	return &r
}

// sensitive judges r as recorded (all checks must hold and be measured),
// then once per perturbation of one figure (some check must fail).
func sensitive(t *testing.T, sc *scenario.Scenario, cas string, r *scenario.Result) {
	base := *r
	require.NoError(t, sc.Judge(&base))
	for _, c := range base.Checks {
		assert.True(t, c.OK, "recorded %s: %q failed: %s", sc.ID, c.Name, c.Detail)
		assert.Empty(t, c.Unmeasured, "recorded %s: %q unmeasured on a native host", sc.ID, c.Name)
	}
	require.True(t, base.OK, "the recorded result fails its verdicts")
	// The file's verdicts, written by the client in its container (as
	// compose and `tcplab run` run it), are the function's, word for word.
	assert.Equal(t, r.Checks, base.Checks, "the recorded checks differ from the verdicts' (re-record: "+refresh+")")
	assert.Equal(t, r.Headline, base.Headline, "the recorded headline differs (re-record: "+refresh+")")

	// The scenario's observation, figure by figure.
	perturb(t, sc.ID, cas, func() any {
		o, err := sc.DecodeObs(r)
		require.NoError(t, err)
		return o
	}, func(o any) bool {
		b, err := json.Marshal(o)
		require.NoError(t, err)
		mut := *r
		mut.Observations = b
		require.NoError(t, sc.Judge(&mut))
		return mut.OK
	}, func(string) string { return "" })
	if r.Network == nil {
		return
	}
	// The network's realised impairment, judged by NetworkVerdicts.
	im := r.Knobs.Impairment()
	perturb(t, sc.ID+" network", cas, func() any {
		var n impair.Network
		b, err := json.Marshal(r.Network)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &n))
		return &n
	}, func(o any) bool {
		mut := *r
		mut.Network = o.(*impair.Network)
		require.NoError(t, sc.Judge(&mut))
		return mut.OK
	}, func(path string) string { return unreadNetwork(im, r.Network, path) })
}

// unreadNetwork says why NetworkVerdicts does not read a figure of the
// network for this impairment, or "" when it does.
func unreadNetwork(im scenario.Impairment, n *impair.Network, path string) string {
	lines := (n.Server != nil && n.Server.DelayLine != nil) || (n.Client != nil && n.Client.DelayLine != nil)
	switch {
	case path == "probe_echo_p99_ms" && im.Loss > 0:
		return "with loss one lost echo moves the p99 by a retransmission timeout"
	case path == "probe_echo_p99_ms" && im.Probe < 100 && im.Jitter == 0:
		return "the p99 of fewer than 100 round trips is their slowest one, which scheduling moves"
	case path == "probe_connect_ms" && im.Loss > 0 && n.ProbeConnectMS >= 1000:
		return "a handshake that lost a SYN took whole SYN seconds: doubled, it lands on a later second, which the SYN timer also gives"
	case path == "tcpi_rtt_ms" && im.Loss > 0:
		return "with loss a recovery lifts the kernel's RTT: only its floor is judged"
	case strings.HasSuffix(path, ".dropped") || strings.HasSuffix(path, ".seen") ||
		strings.HasSuffix(path, ".dropped_out") || strings.HasSuffix(path, ".sent_out"):
		if im.Loss == 0 || lines {
			return "nf_tables counts the loss only without a delay line"
		}
	case (path == "probe_echo_p10_ms" || path == "probe_echo_p90_ms") && (im.Jitter == 0 || im.Loss > 0):
		return "the middle 80 % of the round trips is judged with jitter and without loss only"
	case path == "probe_bulk_mb_per_s" && im.RateKbit == 0:
		return "the bulk transfer's rate is judged against impair.rate only"
	case (path == "tcpi_rtt_ms" || path == "probe_connect_ms" || path == "probe_echo_p50_ms" || path == "probe_echo_p99_ms") && im.RTT == 0:
		return "round trips are judged against impair.rtt only"
	}
	return ""
}

// perturb scales each numeric figure of the value fresh() returns and
// requires that ok (the verdicts on the perturbed value) turns false; skip
// names the figures a verdict does not read in this configuration, and why.
func perturb(t *testing.T, what, cas string, fresh func() any, ok func(any) bool, skip func(path string) string) {
	figures := map[string]*figure{}
	walk(reflect.ValueOf(fresh()).Elem(), "", false, func(path string, exact bool, v reflect.Value) {
		f := figures[path]
		if f == nil {
			f = &figure{path: path, zero: true}
			figures[path] = f
		}
		f.exact = f.exact || exact
		f.zero = f.zero && v.IsZero()
		f.values = append(f.values, v)
	})
	paths := make([]string, 0, len(figures))
	for p := range figures {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if why := skip(p); why != "" {
			t.Logf("%s: %s not judged here: %s", what, p, why)
			continue
		}
		for _, op := range figures[p].ops() {
			o := fresh()
			n := 0
			walk(reflect.ValueOf(o).Elem(), "", false, func(path string, _ bool, v reflect.Value) {
				if path == p {
					op.apply(v)
					n++
				}
			})
			passed := ok(o)
			t.Logf("%s: %s %s: ok=%v", what, p, op.name, passed)
			why, ok := loose[what+" "+p+" "+op.name]
			if !ok {
				why, ok = loose[cas+" "+p+" "+op.name]
			}
			if ok {
				t.Logf("%s: %s %s is left loose: %s", what, p, op.name, why)
				continue
			}
			assert.False(t, passed, "%s: %s %s (%d values) still passes every check: the verdicts do not pin it (tag it `tcplab:\"info\"` if it is only informational)", what, p, op.name, n)
		}
	}
}

// loose names the perturbations a verdict reads but cannot reject, each
// with why: "scenario path op", or "case path op" for one report case. Every entry is a figure no mechanism
// bounds on that side; keep the list short.
var loose = map[string]string{
	"write-timeout-2 outcomes[].took_ms ×2":              "at a 10 µs deadline the blocked Write finds its deadline past and returns at once: a scheduling time, no timer",
	"write-timeout-2 outcomes[].took_ms ×0.5":            "the same",
	"concurrent-write-split report.intact ×0.5":          "how many messages come whole before the first interleaved one depends on which goroutine runs first (0 to n − interleaved)",
	"concurrent-write-split report.framing_lost_at ×2":   "the framing is lost where the whole messages before it end, whichever writers wrote them: a cell boundary at or past intact cells, inside the stream",
	"concurrent-write-split report.framing_lost_at ×0.5": "the same",
}

type figure struct {
	path   string
	exact  bool
	zero   bool // every value is 0: scaling cannot move it
	values []reflect.Value
}

type perturbation struct {
	name  string
	apply func(v reflect.Value)
}

// ops are the perturbations of f that must fail: ×2 and ×0.5, ±1 for a
// count the kernel fixes exactly, +1 for a count that is 0 everywhere.
func (f *figure) ops() []perturbation {
	scale := func(k float64) func(reflect.Value) {
		return func(v reflect.Value) {
			switch v.Kind() {
			case reflect.Float32, reflect.Float64:
				v.SetFloat(v.Float() * k)
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(int64(float64(v.Int()) * k))
			default:
				v.SetUint(uint64(float64(v.Uint()) * k))
			}
		}
	}
	add := func(d int64) func(reflect.Value) {
		return func(v reflect.Value) {
			switch v.Kind() {
			case reflect.Float32, reflect.Float64:
				v.SetFloat(v.Float() + float64(d))
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(v.Int() + d)
			default:
				v.SetUint(uint64(int64(v.Uint()) + d))
			}
		}
	}
	isInt := f.values[0].Kind() != reflect.Float32 && f.values[0].Kind() != reflect.Float64
	var ops []perturbation
	if f.zero {
		if isInt {
			ops = append(ops, perturbation{"+1 (from 0)", add(1)})
		}
		return ops
	}
	ops = append(ops, perturbation{"×2", scale(2)}, perturbation{"×0.5", scale(0.5)})
	if f.exact {
		ops = append(ops, perturbation{"+1", add(1)}, perturbation{"−1", add(-1)})
	}
	return ops
}

// walk visits every numeric leaf of v with its path: struct fields by JSON
// name, every element of a slice or array under one path ("[]"), map
// entries by key. Fields tagged `tcplab:"info"` are left out with all they
// hold; `tcplab:"exact"` marks counts the kernel fixes exactly.
func walk(v reflect.Value, path string, exact bool, visit func(path string, exact bool, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, exact, visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			tags := strings.Split(sf.Tag.Get("tcplab"), ",")
			if has(tags, "info") {
				continue
			}
			name := strings.Split(sf.Tag.Get("json"), ",")[0]
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			walk(v.Field(i), join(path, name), exact || has(tags, "exact"), visit)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), path+"[]", exact, visit)
		}
	case reflect.Map:
		keys := v.MapKeys()
		for _, k := range keys {
			// Map values are not addressable: copy, walk, store back.
			cp := reflect.New(v.Type().Elem()).Elem()
			cp.Set(v.MapIndex(k))
			walk(cp, fmt.Sprintf("%s[%v]", path, k), exact, visit)
			v.SetMapIndex(k, cp)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		visit(path, exact, v)
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func has(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

// requireHeadline: each observation type names its headline figure with
// `tcplab:"headline"`, and that figure is never informational.
func requireHeadline(t *testing.T, typ reflect.Type) {
	t.Helper()
	var found []string
	var look func(typ reflect.Type, path string)
	look = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" {
			return
		}
		for i := range typ.NumField() {
			sf := typ.Field(i)
			tags := strings.Split(sf.Tag.Get("tcplab"), ",")
			if has(tags, "headline") {
				assert.False(t, has(tags, "info"), "%s: the headline figure %s is tagged info", typ, sf.Name)
				found = append(found, path+sf.Name)
			}
			if sf.IsExported() && !has(tags, "info") {
				look(sf.Type, path+sf.Name+".")
			}
		}
	}
	look(typ, "")
	assert.NotEmpty(t, found, "%s names no headline figure (tag one field `tcplab:\"headline\"`)", typ)
}

// caseOf is a recorded file's report case: its name without the
// repetition suffix (".r2"), ".compose" (a result compose wrote) and ".json".
func caseOf(path string) string {
	b := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".json"), ".compose")
	if i := strings.LastIndex(b, ".r"); i > 0 {
		b = b[:i]
	}
	return b
}

// TestComposeJudgesAlike: a result `docker compose up` wrote
// (NAME.compose.json) has the same knobs and the same checks, by name and
// outcome, as `tcplab run`'s recording of that case (NAME.json), and
// TestSensitivity re-judges it word for word: compose, `tcplab run` and
// `go test` judge with one function.
func TestComposeJudgesAlike(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(recorded, "*.compose.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no compose result in %s: copy one from ./results after docker compose up", recorded)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			c := readResult(t, f)
			r := readResult(t, filepath.Join(recorded, caseOf(f)+".json"))
			require.Equal(t, r.Scenario, c.Scenario)
			assert.Equal(t, r.Knobs, c.Knobs, "compose ran other knobs than tcplab run")
			assert.Equal(t, outcomes(r.Checks), outcomes(c.Checks))
			assert.True(t, c.OK)
		})
	}
}

func outcomes(cs []scenario.Check) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s: %v", c.Name, c.OK)
	}
	return out
}
