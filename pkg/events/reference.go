package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// The documentation of the contracts is generated from the declarations:
// docs/events.md's dataset reference and docs/asyncapi.yaml (make docs).

// ExampleBin is a bin of the dataset for examples.
func (d *Dataset) ExampleBin() Bin {
	tb := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC).Add(time.Duration(d.Offset) * time.Second)
	b := Bin{Dataset: d.Name, AF: 4, Timebin: tb, BinSeconds: d.BinSeconds, RunID: "01JEXAMPLE"}
	if d.AF == AFNone {
		b.AF = 0
	}
	if p := d.PartField(); p != nil {
		b.Part = p.Value(reflect.ValueOf(d.Example)).(string)
	}
	return b
}

// ExampleRows is a rows message of the dataset holding its example row.
func (d *Dataset) ExampleRows() []byte {
	b, _ := json.Marshal(struct {
		BatchHeader
		Rows []any `json:"rows"`
	}{BatchHeader{Schema: SchemaRows, Bin: d.ExampleBin(), Producer: Producer{Name: "pipeline", Version: "1.0.0"}}, []any{d.Example}})
	return b
}

func (s AFScope) String() string {
	switch s {
	case AFStartpoint:
		return "4 or 6: the rows whose startpoint location has that af"
	case AFNone:
		return "0 (the table has no address family)"
	}
	return "4 or 6 (column `af`)"
}

func (f *Field) rules() string {
	var r []string
	if f.Kind == KindASN {
		r = append(r, "0–4294967295")
	}
	if f.Min != nil || f.Max != nil {
		r = append(r, f.span())
	}
	if f.MaxLen > 0 {
		r = append(r, fmt.Sprintf("at most %d bytes", f.MaxLen))
	}
	if len(f.Enum) > 0 {
		r = append(r, "one of "+strings.Join(f.Enum, ", "))
	}
	if f.Nonzero {
		r = append(r, "not empty")
	}
	if f.Key {
		r = append(r, "key")
	}
	if f.Report {
		r = append(r, "reported")
	}
	if f.Part {
		r = append(r, "equals the bin's `part`")
	}
	return strings.Join(r, "; ")
}

// Optional reports whether rows may leave the field out.
func (f *Field) Optional(d *Dataset) bool {
	return d.RowType().Field(f.index).Type.Kind() == reflect.Pointer || f.Kind == KindJSON || f.Kind == KindMsms
}

// Reference is the markdown reference of every binned dataset.
func Reference() string {
	var b strings.Builder
	for _, d := range Datasets() {
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n", d.Name, d.Doc)
		fmt.Fprintf(&b, "- subjects: `%s`, `%s`, results on `%s`\n", RowsSubject(d.Name), BinSubject(d.Name), ResultsSubject(d.Name))
		fmt.Fprintf(&b, "- table: `%s` (COPY columns: %s)\n", d.Table, strings.Join(d.Columns(), ", "))
		fmt.Fprintf(&b, "- bins: `bin_seconds` %d, timebins at multiples of %d s", d.BinSeconds, d.AlignSeconds())
		if d.Offset > 0 {
			fmt.Fprintf(&b, " plus %d s", d.Offset)
		}
		fmt.Fprintf(&b, "; `af` %s", d.AF)
		if p := d.PartField(); p != nil {
			fmt.Fprintf(&b, "; `part`: the `%s`", p.JSON)
		}
		b.WriteString("\n\n| field | type | column | rules |\n|---|---|---|---|\n")
		for _, f := range d.Fields() {
			col := "not stored"
			if f.Column != "" {
				col = "`" + f.Column + "`"
			}
			typ := string(f.Kind)
			if f.Optional(d) {
				typ += ", optional"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.JSON, typ, col, f.rules())
		}
		fmt.Fprintf(&b, "\n```json rows %s\n%s\n```\n\n", d.Name, d.ExampleRows())
	}
	return b.String()
}

// schema is the JSON schema of a field.
func (f *Field) schema(d *Dataset) map[string]any {
	s := map[string]any{}
	switch f.Kind {
	case KindASN:
		s["type"], s["minimum"], s["maximum"] = "integer", 0, 4294967295
	case KindInt, KindFloat:
		s["type"] = map[Kind]string{KindInt: "integer", KindFloat: "number"}[f.Kind]
		if f.Min != nil {
			s["minimum"] = *f.Min
		}
		if f.Max != nil {
			s["maximum"] = *f.Max
		}
	case KindText, KindCountry:
		s["type"] = "string"
		if f.MaxLen > 0 {
			s["maxLength"] = f.MaxLen
		}
		if f.Nonzero {
			s["minLength"] = 1
		}
		if len(f.Enum) > 0 {
			s["enum"] = f.Enum
		}
	case KindBool:
		s["type"] = "boolean"
	case KindTime:
		s["type"], s["format"] = "string", "date-time"
	case KindJSON:
		s["description"] = "any JSON value"
	case KindLocation:
		s["$ref"] = "#/components/schemas/location"
	case KindIdentifier:
		s["$ref"] = "#/components/schemas/identifier"
	case KindMsms:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "object", "required": []string{"msmid", "probeid"}, "properties": map[string]any{
			"msmid": map[string]any{"type": "integer", "minimum": 0}, "probeid": map[string]any{"type": "integer", "minimum": 0}}}
	}
	return s
}

func (d *Dataset) rowSchema() map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range d.Fields() {
		props[f.JSON] = f.schema(d)
		if !f.Optional(d) {
			required = append(required, f.JSON)
		}
	}
	return map[string]any{"type": "object", "additionalProperties": false, "required": required, "properties": props}
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = title(parts[i])
	}
	return strings.Join(parts, "")
}

// title capitalises the first letter, for names made of names.
func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/" + kind + "/" + name}
}

func header(id string) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{
		"Nats-Msg-Id": map[string]any{"type": "string", "description": id}}}
}

func example(name string, payload []byte) []any {
	var v any
	_ = json.Unmarshal(payload, &v)
	return []any{map[string]any{"name": name, "payload": v}}
}

// AsyncAPI is the AsyncAPI 3 document of every subject, as a YAML-ready tree.
func AsyncAPI() map[string]any {
	channels, operations := map[string]any{}, map[string]any{}
	schemas := map[string]any{
		"bin": map[string]any{"type": "object", "required": []string{"schema", "dataset", "af", "timebin", "bin_seconds", "run_id"},
			"properties": map[string]any{
				"dataset":     map[string]any{"type": "string"},
				"af":          map[string]any{"type": "integer", "enum": []int{0, 4, 6}, "description": "4 or 6; 0 for datasets without address family"},
				"timebin":     map[string]any{"type": "string", "format": "date-time"},
				"bin_seconds": map[string]any{"type": "integer"},
				"part":        map[string]any{"type": "string", "description": "splits the bins of some datasets (the metric of metis datasets)"},
				"run_id":      map[string]any{"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
				"producer": map[string]any{"type": "object", "properties": map[string]any{
					"name": map[string]any{"type": "string"}, "version": map[string]any{"type": "string"}, "host": map[string]any{"type": "string"}}},
			}},
		"location": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"type", "name", "af"},
			"properties": map[string]any{"type": map[string]any{"type": "string", "enum": []string{"AS", "CT", "PB", "IP"}},
				"name": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}, "af": map[string]any{"type": "integer", "enum": []int{4, 6}}}},
		"identifier": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"type", "name"},
			"properties": map[string]any{"type": map[string]any{"type": "string", "enum": []string{"AS", "IX", "MB", "IP"}},
				"name": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}}},
	}
	messages := map[string]any{
		"binComplete": map[string]any{"name": "binComplete", "title": "A bin is complete",
			"headers": header("<dataset>[/<part>]:<af>:<timebin unix>:<run_id>:complete"),
			"payload": map[string]any{"allOf": []any{ref("components/schemas", "bin"), map[string]any{"type": "object",
				"required": []string{"batch_count", "row_count"}, "properties": map[string]any{
					"schema":      map[string]any{"type": "string", "const": SchemaBin},
					"batch_count": map[string]any{"type": "integer", "minimum": 1},
					"row_count":   map[string]any{"type": "integer", "minimum": 0}}}}},
			"examples": example("bin", mustJSON(BinComplete{Schema: SchemaBin, Bin: Hegemony.ExampleBin(), Producer: Producer{Name: "pipeline"}, BatchCount: 1, RowCount: 1}))},
		"result": map[string]any{"name": "result", "title": "A bin was committed",
			"headers": header("result:<dataset>[/<part>]:<af>:<timebin unix>:<run_id>"),
			"payload": map[string]any{"allOf": []any{ref("components/schemas", "bin"), map[string]any{"type": "object",
				"required": []string{"replaced", "row_count", "committed_at"}, "properties": map[string]any{
					"schema":          map[string]any{"type": "string", "const": SchemaResults},
					"replaced":        map[string]any{"type": "boolean"},
					"previous_run_id": map[string]any{"type": "string"},
					"keys":            map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}, "description": "affected numeric keys per field, sorted"},
					"text_keys":       map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, "description": "affected text keys per field (countries, locations, identifiers), sorted"},
					"all_keys":        map[string]any{"type": "boolean", "description": "too many keys to list; every key is affected"},
					"row_count":       map[string]any{"type": "integer"},
					"committed_at":    map[string]any{"type": "string", "format": "date-time"}}}}},
			"examples": example("result", mustJSON(Result{Schema: SchemaResults, Bin: Hegemony.ExampleBin(), Keys: map[string][]int64{"asn": {2914}, "originasn": {2497}},
				RowCount: 1, CommittedAt: time.Date(2026, 12, 4, 0, 16, 7, 0, time.UTC)}))},
	}
	for _, d := range Datasets() {
		c := camel(d.Name)
		schemas[c+"Row"] = d.rowSchema()
		messages[c+"Rows"] = map[string]any{"name": c + "Rows", "title": "A batch of " + d.Name + " rows", "summary": d.Doc,
			"headers": header(d.Name + "[/<part>]:<af>:<timebin unix>:<run_id>:<batch_seq>"),
			"payload": map[string]any{"allOf": []any{ref("components/schemas", "bin"), map[string]any{"type": "object",
				"required": []string{"batch_seq", "rows"}, "properties": map[string]any{
					"schema":       map[string]any{"type": "string", "const": SchemaRows},
					"batch_seq":    map[string]any{"type": "integer", "minimum": 0},
					"bin_complete": map[string]any{"type": "boolean", "description": "the bin is this single batch"},
					"rows":         map[string]any{"type": "array", "maxItems": MaxBatchRows, "items": ref("components/schemas", c+"Row")}}}}},
			"examples": example("rows", d.ExampleRows())}
		channels[c+"Rows"] = map[string]any{"address": RowsSubject(d.Name), "messages": map[string]any{c + "Rows": ref("components/messages", c+"Rows")}}
		channels[c+"Bin"] = map[string]any{"address": BinSubject(d.Name), "messages": map[string]any{"binComplete": ref("components/messages", "binComplete")}}
		channels[c+"Results"] = map[string]any{"address": ResultsSubject(d.Name), "messages": map[string]any{"result": ref("components/messages", "result")}}
		operations["publish"+title(c)+"Rows"] = map[string]any{"action": "send", "channel": ref("channels", c+"Rows")}
		operations["publish"+title(c)+"Bin"] = map[string]any{"action": "send", "channel": ref("channels", c+"Bin")}
		operations["receive"+title(c)+"Results"] = map[string]any{"action": "receive", "channel": ref("channels", c+"Results")}
	}
	for _, m := range []struct{ name, subject, title, schema, example string }{
		{"discoEvents", DiscoSubject(), "A disco outage event opens, closes or is dropped", SchemaDisco, string(mustJSON(DiscoExample()))},
		{"namesUpdate", NamesSubject(), "Names and flags of networks and countries", SchemaNames, string(mustJSON(NamesExample()))},
	} {
		messages[m.name] = map[string]any{"name": m.name, "title": m.title, "summary": "See docs/events.md; schema " + m.schema + ".",
			"headers": header("content-derived: see docs/events.md"),
			"payload": map[string]any{"type": "object", "required": []string{"schema"}, "properties": map[string]any{
				"schema": map[string]any{"type": "string", "const": m.schema}}},
			"examples": example(strings.TrimSuffix(strings.TrimSuffix(m.name, "Events"), "Update"), []byte(m.example))}
		channels[m.name] = map[string]any{"address": m.subject, "messages": map[string]any{m.name: ref("components/messages", m.name)}}
		operations["publish"+title(m.name)] = map[string]any{"action": "send", "channel": ref("channels", m.name)}
	}
	for _, name := range []string{Disco, Names} {
		channels[name+"Results"] = map[string]any{"address": ResultsSubject(name), "messages": map[string]any{"result": ref("components/messages", "result")}}
		operations["receive"+title(name)+"Results"] = map[string]any{"action": "receive", "channel": ref("channels", name+"Results")}
	}
	channels["ingestDLQ"] = map[string]any{"address": "ihr.dlq.ingest",
		"description": "Messages that can never be ingested, unchanged, with the reason in the Ihr-Error header."}
	return map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{"title": "IHR API events", "version": "1.0.0",
			"description": "Measurement results published bin by bin by pipelines, and the results events ingestion publishes " +
				"after committing a bin. Generated from pkg/events (make docs); see docs/events.md. Examples are checked by tests/docs."},
		"defaultContentType": "application/json",
		"servers": map[string]any{"local": map[string]any{"host": "127.0.0.1:4222", "protocol": "nats",
			"description": "NATS with JetStream (streams IHR_INGEST, IHR_RESULTS, IHR_DLQ)"}},
		"channels":   channels,
		"operations": operations,
		"components": map[string]any{"schemas": schemas, "messages": messages},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// DiscoExample is a disco event opening, for the docs.
func DiscoExample() DiscoEvent {
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	level, total := 7.5, int64(40)
	return DiscoEvent{Schema: SchemaDisco, Op: DiscoOpen, Producer: Producer{Name: "disco"}, StreamType: "asn", StreamName: "2497",
		StartTime: start, AvgLevel: &level, TotalProbes: &total, Probes: []DiscoProbe{
			{ProbeID: 1001, StartTime: start, Level: 8, IPv4: "202.232.0.9", PrefixV4: "202.232.0.0/17", Lat: 35.6, Lon: 139.7}}}
}

// NamesExample is a names update, for the docs.
func NamesExample() NamesUpdate {
	yes := true
	return NamesUpdate{Schema: SchemaNames, Producer: Producer{Name: "names"},
		Networks:  []NetworkName{{Number: 2497, Name: "IIJ Internet Initiative Japan Inc., JP", ASHash: &yes}},
		Countries: []CountryName{{Code: "JP", Name: "Japan"}}}
}
