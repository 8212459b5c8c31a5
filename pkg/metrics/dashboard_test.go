package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const dashboardFile = "../../configs/grafana-dashboard.json"

// dashboard is what the test reads of a Grafana dashboard.
type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string     `json:"name"`
			Type       string     `json:"type"`
			Datasource datasource `json:"datasource"`
			Definition string     `json:"definition"`
			Query      struct {
				Query string `json:"query"`
			} `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource datasource               `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasource struct{ Type, UID string }

// walk calls fn for every panel, rows' panels included.
func walk(ps []panel, fn func(panel)) {
	for _, p := range ps {
		fn(p)
		walk(p.Panels, fn)
	}
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Fatalf("schemaVersion %d, uid %q, title %q: want a schema of Grafana 9 or later, a uid and a title",
			d.SchemaVersion, d.UID, d.Title)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Fatalf("__inputs = %+v, want the one Prometheus data source DS_PROMETHEUS", d.Inputs)
	}
	ds := datasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}

	known := names()
	ids := map[int]bool{}
	var exprs int
	walk(d.Panels, func(p panel) {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v does not fit the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			return
		}
		if p.Datasource != ds {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, ds)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			exprs++
			if refs[q.RefID] || q.RefID == "" {
				t.Errorf("panel %q: refId %q empty or used twice", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			if q.Datasource != ds {
				t.Errorf("panel %q, query %s: datasource %+v, want %+v", p.Title, q.RefID, q.Datasource, ds)
			}
			used, err := metricNames(q.Expr)
			if err != nil {
				t.Errorf("panel %q, query %s: %v", p.Title, q.RefID, err)
			}
			if len(used) == 0 {
				t.Errorf("panel %q, query %s: %q uses no metric", p.Title, q.RefID, q.Expr)
			}
			for _, n := range used {
				if !slices.Contains(known, n) {
					t.Errorf("panel %q, query %s: %q is not a vipd metric", p.Title, q.RefID, n)
				}
			}
		}
	})
	if exprs == 0 {
		t.Fatal("the dashboard has no query")
	}

	// Template variables query label values of a metric.
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)[{,]`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if v.Datasource != ds {
			t.Errorf("variable %s: datasource %+v, want %+v", v.Name, v.Datasource, ds)
		}
		for _, q := range []string{v.Definition, v.Query.Query} {
			m := labelValues.FindStringSubmatch(q)
			if m == nil || !slices.Contains(known, m[1]) {
				t.Errorf("variable %s: %q does not take label values of a vipd metric", v.Name, q)
			}
		}
	}
}

var (
	// promString matches a PromQL string literal.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	// braces and brackets match label matchers and ranges or subqueries.
	braces   = regexp.MustCompile(`\{[^{}]*\}`)
	brackets = regexp.MustCompile(`\[[^\[\]]*\]`)
	// grouping matches a modifier with its label list.
	grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*(?:\([^()]*\))?`)
	// number matches numbers and durations (offset 5m).
	number = regexp.MustCompile(`(^|[^a-zA-Z0-9_:$])[0-9][a-zA-Z0-9_.]*`)
	// ident matches identifiers that are not Grafana variables.
	ident = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// promFunctions are the PromQL functions and aggregations the dashboard
// may call. Calling another is an error, which catches misspelt ones.
var promFunctions = []string{
	"abs", "absent", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp_max", "clamp_min",
	"count", "delta", "deriv", "floor", "group", "increase", "irate", "label_replace", "last_over_time",
	"max", "max_over_time", "min", "min_over_time", "quantile", "rate", "resets", "round", "scalar",
	"sort", "sort_desc", "sum", "time", "timestamp", "topk", "vector",
}

// promKeywords are the PromQL words that are neither metrics nor functions
// once grouping modifiers are removed.
var promKeywords = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}

// metricNames returns the metric names a PromQL expression selects, in the
// order they appear. It is no PromQL parser: it strips strings, label
// matchers, ranges, grouping modifiers and numbers, then takes every
// identifier that is not a function call, a keyword or a Grafana variable
// for a metric name.
func metricNames(expr string) ([]string, error) {
	s := promString.ReplaceAllString(expr, " ")
	for {
		t := braces.ReplaceAllString(s, " ")
		t = brackets.ReplaceAllString(t, " ")
		if t == s {
			break
		}
		s = t
	}
	if strings.ContainsAny(s, "{}[]") {
		return nil, fmt.Errorf("%q: unbalanced braces or brackets", expr)
	}
	s = grouping.ReplaceAllString(s, " ")
	s = number.ReplaceAllString(s, "$1 ")

	var out []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		switch {
		case strings.HasPrefix(id, "$"):
			continue
		case strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "("):
			if !slices.Contains(promFunctions, id) {
				return nil, fmt.Errorf("%q: unknown function %s", expr, id)
			}
		case slices.Contains(promKeywords, id):
		default:
			out = append(out, id)
		}
	}
	return out, nil
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr    string
		want    []string
		wantErr bool
	}{
		{expr: `vipd_instance_priority`, want: []string{"vipd_instance_priority"}},
		{
			expr: `sum by (instance, vrrp_instance) (rate(vipd_adverts_sent_total{job=~"$job", reason="a{b}"}[$__rate_interval]))`,
			want: []string{"vipd_adverts_sent_total"},
		},
		{
			expr: `vipd_instance_state{state="master"} * 3 + ignoring(state) vipd_instance_state{state="backup"} * 2`,
			want: []string{"vipd_instance_state", "vipd_instance_state"},
		},
		{
			expr: `sum(rate(x_total[5m] offset 1h)) without (reason) > 0.5e3 and on(job) group_left(version) vipd_build_info`,
			want: []string{"x_total", "vipd_build_info"},
		},
		{expr: `max_over_time(up[1h:5m]) or vector(0)`, want: []string{"up"}},
		{expr: `60 * rate(vipd_instance_transitions_total[1m])`, want: []string{"vipd_instance_transitions_total"}},
		{expr: `sum by (job) (60*rate(vipd_adverts_sent_total[1m]))`, want: []string{"vipd_adverts_sent_total"}},
		{expr: `sum by (job) (vipd_adverts_sent_total) + vipd_instance_priority`, want: []string{"vipd_adverts_sent_total", "vipd_instance_priority"}},
		{expr: `vipd_no_such_metric > 1e+3`, want: []string{"vipd_no_such_metric"}},
		{expr: `rat(vipd_adverts_sent_total[1m])`, wantErr: true},
		{expr: `vipd_instance_state{state="master"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := metricNames(tt.expr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("metricNames = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
