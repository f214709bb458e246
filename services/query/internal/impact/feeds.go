// Package impact decides whether a change announced by a results event can
// alter the answer to a query. It knows, for every endpoint, which
// datasets' changes reach the tables it reads and which columns a change's
// time, address family, part and keys stand for; a change can alter an
// answer when some row it may have rewritten passes the query's filters.
package impact

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ihr-go/ihr/pkg/events"
)

// Feed is one dataset whose changes can alter an endpoint's answers, and
// how a change describes the rows it rewrote, in the endpoint's columns.
type Feed struct {
	Dataset string
	// Time is the column the change's time stands for ("" when the
	// dataset changes rows of any time: names).
	Time string
	AF   []string // columns the change's af stands for
	Part string   // column the change's part stands for
	// Groups: every changed row has one value from each group, so a
	// change alters an answer only if each group has a value whose row
	// passes the filters. A group lists alternatives: a names change of an
	// AS touches the rows where it is the origin or the dependency.
	Groups [][]Key
	// Const are values every changed row holds (new networks have an empty name).
	Const map[string]any
	// Unbounded: the change's keys do not bound the rows it rewrote (cones
	// derived from a hegemony bin are replaced whole).
	Unbounded bool
}

// Key maps the values of one of a change's key lists to columns.
type Key struct {
	Event  string // the key list in the change (Ints or Texts)
	Column string // the column a value stands for
	// Decode splits a packed text key (a location, an identifier) into the columns it stands for.
	Decode func(string) map[string]any
}

// join is "JOIN table alias ON alias.col = ref" of a FROM clause.
type join struct{ table, alias, col, ref string }

var (
	fromRe = regexp.MustCompile(`^(\w+) (\w+)((?: JOIN \w+ \w+ ON \w+\.\w+ = \w+\.\w+)*)$`)
	joinRe = regexp.MustCompile(`JOIN (\w+) (\w+) ON (\w+)\.(\w+) = (\w+\.\w+)`)
)

// schema is an endpoint's FROM clause: its table, alias and joins.
type schema struct {
	table, alias string
	joins        []join
}

func parseFrom(from string) (schema, error) {
	m := fromRe.FindStringSubmatch(from)
	if m == nil {
		return schema{}, fmt.Errorf("FROM clause %q is not table alias [JOIN table alias ON a.c = b.c]...", from)
	}
	s := schema{table: m[1], alias: m[2]}
	for _, j := range joinRe.FindAllStringSubmatch(m[3], -1) {
		if j[3] != j[2] {
			return schema{}, fmt.Errorf("join of %s must start with its alias %s", j[1], j[2])
		}
		s.joins = append(s.joins, join{table: j[1], alias: j[2], col: j[2] + "." + j[4], ref: j[5]})
	}
	return s, nil
}

// joinOn returns the join whose key is ref (the main table's column).
func (s schema) joinOn(ref string) (join, bool) {
	for _, j := range s.joins {
		if j.ref == ref {
			return j, true
		}
	}
	return join{}, false
}

// feeds lists the datasets whose changes can alter the answers read from s.
func (s schema) feeds() []Feed {
	x := s.alias + "."
	var feeds []Feed
	for _, d := range events.Datasets() {
		if d.Table == s.table {
			feeds = append(feeds, s.binFeed(d, d.Name, false))
		}
		if o, ok := events.Lookup(d.Derives); ok && o.Table == s.table {
			feeds = append(feeds, s.binFeed(o, d.Name, true))
		}
	}
	switch s.table {
	case "ihr_asn":
		feeds = append(feeds, Feed{Dataset: events.Names, Groups: [][]Key{{{Event: "asn", Column: x + "number"}}}})
		feeds = append(feeds, dimFeeds(events.KindASN, func(f events.Field) Key { return Key{Event: f.JSON, Column: x + "number"} },
			map[string]any{x + "name": ""})...)
	case "ihr_country":
		feeds = append(feeds, Feed{Dataset: events.Names, Groups: [][]Key{{{Event: "country", Column: x + "code"}}}})
		feeds = append(feeds, dimFeeds(events.KindCountry, func(f events.Field) Key { return Key{Event: f.JSON, Column: x + "code"} },
			map[string]any{x + "name": ""})...)
	case "ihr_atlas_location":
		feeds = append(feeds, dimFeeds(events.KindLocation, func(f events.Field) Key {
			return Key{Event: f.JSON, Decode: location(s.alias)}
		}, nil)...)
	case "ihr_disco_events":
		feeds = append(feeds, Feed{Dataset: events.Disco, Time: x + "starttime",
			Groups: [][]Key{{{Event: "streamtype", Column: x + "streamtype"}}, {{Event: "streamname", Column: x + "streamname"}}}})
	}
	// The names shown from joined networks change with names updates.
	var names []Key
	for _, j := range s.joins {
		if j.table == "ihr_asn" {
			names = append(names, Key{Event: "asn", Column: j.col})
		}
	}
	if len(names) > 0 {
		feeds = append(feeds, Feed{Dataset: events.Names, Groups: [][]Key{names}})
	}
	return feeds
}

// binFeed is how changes of dataset source (whose rows are d's) describe
// the rows of d's table.
func (s schema) binFeed(d *events.Dataset, source string, unbounded bool) Feed {
	x := s.alias + "."
	f := Feed{Dataset: source, Time: x + "timebin", Unbounded: unbounded}
	switch d.AF {
	case events.AFColumn:
		f.AF = append(f.AF, x+"af")
		for _, j := range s.joins {
			if j.table == "ihr_tr_hegemony_identifier" { // identifiers take the bin's af
				f.AF = append(f.AF, j.alias+".af")
			}
		}
	case events.AFStartpoint:
		if j, ok := s.joinOn(x + "startpoint_id"); ok {
			f.AF = append(f.AF, j.alias+".af")
		}
	}
	if p := d.PartField(); p != nil {
		f.Part = x + p.Column
	}
	if unbounded {
		return f
	}
	for _, fd := range d.Fields() {
		if !fd.Report {
			continue
		}
		col := x + fd.Column
		k := Key{Event: fd.JSON, Column: col}
		if j, ok := s.joinOn(col); ok {
			switch j.table {
			case "ihr_atlas_location":
				k = Key{Event: fd.JSON, Decode: location(j.alias)}
			case "ihr_tr_hegemony_identifier":
				k = Key{Event: fd.JSON, Decode: identifier(j.alias)}
			}
		}
		f.Groups = append(f.Groups, []Key{k})
	}
	return f
}

// dimFeeds are the changes that may add rows to a dimension table: every
// dataset with a reported field of that kind adds the values it has not
// seen yet, with an empty name.
func dimFeeds(kind events.Kind, key func(events.Field) Key, consts map[string]any) []Feed {
	var feeds []Feed
	for _, d := range events.Datasets() {
		var group []Key
		for _, f := range d.Fields() {
			if f.Kind == kind && f.Report {
				group = append(group, key(f))
			}
		}
		if len(group) > 0 {
			feeds = append(feeds, Feed{Dataset: d.Name, Groups: [][]Key{group}, Const: consts})
		}
	}
	return feeds
}

// location decodes a location key (CT4London, England, GB) into alias's columns.
func location(alias string) func(string) map[string]any {
	return func(v string) map[string]any {
		if len(v) < 3 {
			return nil
		}
		af, err := strconv.ParseInt(v[2:3], 10, 64)
		if err != nil {
			return nil
		}
		return map[string]any{alias + ".type": v[:2], alias + ".af": af, alias + ".name": v[3:]}
	}
}

// identifier decodes an identifier key (AS|2497) into alias's columns.
func identifier(alias string) func(string) map[string]any {
	return func(v string) map[string]any {
		t, name, ok := strings.Cut(v, "|")
		if !ok {
			return nil
		}
		return map[string]any{alias + ".type": t, alias + ".name": name}
	}
}
