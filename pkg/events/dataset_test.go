package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// exampleBatch is a batch of the dataset's example row, in a valid bin.
func exampleBatch(d *Dataset) Rows[any] {
	b := d.NewBin(4, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).Add(time.Duration(d.Offset)*time.Second), "r1")
	if d.AF == AFNone {
		b.AF = 0
	}
	if p := d.PartField(); p != nil {
		b.Part = p.Value(reflect.ValueOf(d.Example)).(string)
	}
	return Rows[any]{BatchHeader: BatchHeader{Schema: SchemaRows, Bin: b, Producer: Producer{Name: "test"}}, Rows: []any{d.Example}}
}

func TestEveryDatasetDecodesItsExample(t *testing.T) {
	if len(Datasets()) < 14 {
		t.Fatalf("%d datasets declared", len(Datasets()))
	}
	for _, d := range Datasets() {
		t.Run(d.Name, func(t *testing.T) {
			if reflect.TypeOf(d.Example) != d.RowType() {
				t.Fatalf("example is a %T, rows are %s", d.Example, d.RowType())
			}
			data, _ := json.Marshal(exampleBatch(d))
			m, err := d.DecodeRows(data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if got := reflect.ValueOf(m.Rows).Index(0).Interface(); !reflect.DeepEqual(got, d.Example) {
				t.Errorf("decoded %+v, want %+v", got, d.Example)
			}
			if cols := d.Columns(); cols[0] != "timebin" || len(cols) < 3 {
				t.Errorf("columns %v", cols)
			}
		})
	}
}

func TestDatasetRules(t *testing.T) {
	tests := []struct {
		d            *Dataset
		from, to, is string
	}{
		{MetisSelection, `"part":"rtt"`, `"part":"ip_hops"`, "in a bin of part"},
		{MetisSelection, `"part":"rtt",`, ``, "part must name"},
		{MetisSelection, `"metric":"rtt"`, `"metric":"hops"`, "metric must be one of"},
		{AtlasDelay, `"af":4}`, `"af":6}`, "has af 6 in a bin of af 4"},
		{AtlasDelay, `"type":"CT"`, `"type":"XX"`, "endpoint must be a location"},
		{Delay, `"af":0`, `"af":4`, "af must be 0"},
		{Delay, `T00:30:00Z`, `T00:00:00Z`, "not aligned"},
		{HegemonyCountry, `"country":"JP"`, `"country":"JAPAN"`, "at most 4 bytes"},
		{HegemonyCountry, `"weightscheme":"eyeball"`, `"weightscheme":""`, "must not be empty"},
		{HegemonyCountry, `"hege":0.12`, `"hege":1.5`, "between 0 and 1"},
		{DelayAlarms, `"ip":"202.232.0.2"`, `"ip":""`, "ip must not be empty"},
		{TRHegemony, `"type":"IX"`, `"type":"ZZ"`, "dependency must be an identifier"},
		{HegemonyPrefix, `"nb_peers":310`, `"nb_peers":-1`, "nb_peers must be between 0"},
	}
	for _, tt := range tests {
		t.Run(tt.d.Name+" "+tt.is, func(t *testing.T) {
			data, _ := json.Marshal(exampleBatch(tt.d))
			in := strings.Replace(string(data), tt.from, tt.to, 1)
			if in == string(data) {
				t.Fatalf("test does not change %s", data)
			}
			_, err := tt.d.DecodeRows([]byte(in))
			if !IsInvalid(err) || !strings.Contains(err.Error(), tt.is) {
				t.Fatalf("got %v, want an invalid message saying %q", err, tt.is)
			}
		})
	}
}

func TestDuplicateKeyAcrossFields(t *testing.T) {
	b := exampleBatch(HegemonyCountry)
	row := HegemonyCountry.Example.(CountryHegemonyRow)
	other := row
	other.TransitOnly = !row.TransitOnly
	b.Rows = []any{row, other}
	data, _ := json.Marshal(b)
	if _, err := HegemonyCountry.DecodeRows(data); err != nil {
		t.Fatalf("rows differing by transitonly: %v", err)
	}
	b.Rows = []any{row, other, row}
	data, _ = json.Marshal(b)
	if _, err := HegemonyCountry.DecodeRows(data); !IsInvalid(err) || !strings.Contains(err.Error(), "row 2: the key (JP, 2497, eyeball, true) appears twice") {
		t.Fatalf("a repeated key: %v", err)
	}
}
