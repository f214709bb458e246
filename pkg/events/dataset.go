package events

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AFScope says how a dataset's rows belong to an address family, which is
// what a bin of that family replaces.
type AFScope int

const (
	// AFColumn: the table has an af column, filled from the envelope.
	AFColumn AFScope = iota
	// AFStartpoint: rows belong to the af of their startpoint Atlas location.
	AFStartpoint
	// AFNone: the table has no af; envelopes carry af 0.
	AFNone
)

// Dataset declares one binned dataset: its subjects, row type, validation
// rules, target table, natural key, bin size and the keys its results
// events report. The consumer, the COPY column list and the documentation
// are all derived from it.
//
// Row fields are declared with struct tags:
//
//	json:"name"                          the field in a row
//	ihr:"column,rule,rule..."            the target column ("-": not stored), then rules:
//	  asn                 an AS number (0..4294967295), added to ihr_asn when new
//	  country             a country code, added to ihr_country when new
//	  key                 part of the natural key: unique within a bin
//	  report              reported in results events (keys or text_keys)
//	  part                the bin is split by this field's value, which the envelope names (part)
//	  min=X, max=X        numeric bounds (inclusive)
//	  len=N               maximum length of a text
//	  enum=a|b|c          allowed values of a text
//	  required            a text must not be empty
//
// Location and Identifier fields are resolved to the ids of
// ihr_atlas_location and ihr_tr_hegemony_identifier, created when new.
type Dataset struct {
	Name  string
	Table string
	Doc   string
	// BinSeconds is the length of a bin; timebins are multiples of Align
	// (BinSeconds when 0) plus Offset seconds.
	BinSeconds int
	Align      int
	Offset     int
	AF         AFScope
	// Derives names the dataset whose table a commit of this one also
	// rewrites for the bin, whole (hegemony bins replace the bin's cones).
	Derives string
	// Row is a value of the row type; Example is a valid row, for the docs.
	Row     any
	Example any

	fields []Field
}

// Field is one declared field of a row type.
type Field struct {
	JSON    string
	Column  string // "" when not stored
	Kind    Kind
	Key     bool
	Report  bool
	Part    bool
	Nonzero bool // required text
	Min     *float64
	Max     *float64
	MaxLen  int
	Enum    []string
	index   int
}

// Kind is what a field holds, as far as storage and validation go.
type Kind string

// Field kinds.
const (
	KindInt        Kind = "integer"
	KindFloat      Kind = "number"
	KindText       Kind = "string"
	KindBool       Kind = "boolean"
	KindTime       Kind = "date-time"
	KindJSON       Kind = "json"
	KindASN        Kind = "asn"
	KindCountry    Kind = "country"
	KindLocation   Kind = "location"
	KindIdentifier Kind = "identifier"
	KindMsms       Kind = "measurements"
)

// Location is an Atlas location (ihr_atlas_location): AS, CT (city), PB
// (probe) or IP, with its address family.
type Location struct {
	Type string `json:"type"`
	Name string `json:"name"`
	AF   int    `json:"af"`
}

// Key is the location as the read API's *_key parameters spell it: CT4London, England, GB.
func (l Location) Key() string { return l.Type + strconv.Itoa(l.AF) + l.Name }

// Identifier is a traceroute hegemony node (ihr_tr_hegemony_identifier):
// AS, IX, MB (IX member) or IP. Its af is the bin's.
type Identifier struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Key is the identifier as results events report it: AS|2497.
func (i Identifier) Key() string { return i.Type + "|" + i.Name }

var (
	typeLocation   = reflect.TypeFor[Location]()
	typeIdentifier = reflect.TypeFor[Identifier]()
	typeTime       = reflect.TypeFor[time.Time]()
	typeRaw        = reflect.TypeFor[json.RawMessage]()
	typeMsms       = reflect.TypeFor[[]MsmProbe]()
)

// BatchRows is how many rows a batch of the dataset holds at most: 5000,
// or fewer when rows twice the example's size would pass MaxBatchBytes.
func (d *Dataset) BatchRows() int {
	row, _ := json.Marshal(d.Example)
	return max(1, min(MaxBatchRows, MaxBatchBytes/(2*len(row))))
}

// Fields returns the declared fields, in row order.
func (d *Dataset) Fields() []Field { return d.fields }

// RowType is the Go type of a row.
func (d *Dataset) RowType() reflect.Type { return reflect.TypeOf(d.Row) }

// AlignSeconds is the spacing of valid timebins.
func (d *Dataset) AlignSeconds() int {
	if d.Align > 0 {
		return d.Align
	}
	return d.BinSeconds
}

// PartField is the field bins are split by, if any.
func (d *Dataset) PartField() *Field {
	for i := range d.fields {
		if d.fields[i].Part {
			return &d.fields[i]
		}
	}
	return nil
}

// declare parses the row type's tags; a bad declaration is a programming
// error, so it panics at start-up.
func (d *Dataset) declare() {
	t := d.RowType()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		tag, ok := sf.Tag.Lookup("ihr")
		if !ok || name == "" {
			panic(fmt.Sprintf("events: %s.%s has no json or ihr tag", t.Name(), sf.Name))
		}
		parts := strings.Split(tag, ",")
		f := Field{JSON: name, Column: parts[0], index: i, Kind: kindOf(sf.Type)}
		if f.Column == "-" {
			f.Column = ""
		}
		for _, rule := range parts[1:] {
			k, v, _ := strings.Cut(rule, "=")
			switch k {
			case "asn":
				f.Kind = KindASN
			case "country":
				f.Kind, f.MaxLen = KindCountry, 4
			case "key":
				f.Key = true
			case "report":
				f.Report = true
			case "part":
				f.Part = true
			case "required":
				f.Nonzero = true
			case "min", "max":
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					panic(fmt.Sprintf("events: %s.%s: %s", t.Name(), sf.Name, rule))
				}
				if k == "min" {
					f.Min = &x
				} else {
					f.Max = &x
				}
			case "len":
				f.MaxLen, _ = strconv.Atoi(v)
			case "enum":
				f.Enum = strings.Split(v, "|")
			default:
				panic(fmt.Sprintf("events: %s.%s: unknown rule %q", t.Name(), sf.Name, rule))
			}
		}
		if f.Kind == "" {
			panic(fmt.Sprintf("events: %s.%s: unsupported type %s", t.Name(), sf.Name, sf.Type))
		}
		d.fields = append(d.fields, f)
	}
}

func kindOf(t reflect.Type) Kind {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == typeLocation:
		return KindLocation
	case t == typeIdentifier:
		return KindIdentifier
	case t == typeTime:
		return KindTime
	case t == typeRaw:
		return KindJSON
	case t == typeMsms:
		return KindMsms
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return KindInt
	case reflect.Float64:
		return KindFloat
	case reflect.String:
		return KindText
	case reflect.Bool:
		return KindBool
	}
	return ""
}

// Value is field f of row (a row struct), nil for an absent optional field.
func (f *Field) Value(row reflect.Value) any {
	v := row.Field(f.index)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// check validates one field value.
func (f *Field) check(row reflect.Value, b Bin) error {
	v := f.Value(row)
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		if f.Kind == KindASN && (x < 0 || x > math.MaxUint32) {
			return fmt.Errorf("%s must be an AS number between 0 and 4294967295, got %d", f.JSON, x)
		}
		return f.bounds(float64(x))
	case int:
		return f.bounds(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s must be a finite number", f.JSON)
		}
		return f.bounds(x)
	case string:
		return f.text(x)
	case time.Time:
		if x.IsZero() {
			return fmt.Errorf("%s is missing", f.JSON)
		}
	case json.RawMessage:
		if len(x) > 0 && !json.Valid(x) {
			return fmt.Errorf("%s is not valid JSON", f.JSON)
		}
	case Location:
		if !slices.Contains([]string{"AS", "CT", "PB", "IP"}, x.Type) || x.Name == "" || len(x.Name) > 255 || x.AF != 4 && x.AF != 6 {
			return fmt.Errorf("%s must be a location with type AS, CT, PB or IP, a name of 1 to 255 characters and af 4 or 6", f.JSON)
		}
		if x.AF != b.AF {
			return fmt.Errorf("%s has af %d in a bin of af %d", f.JSON, x.AF, b.AF)
		}
	case Identifier:
		if !slices.Contains([]string{"AS", "IX", "MB", "IP"}, x.Type) || x.Name == "" || len(x.Name) > 255 {
			return fmt.Errorf("%s must be an identifier with type AS, IX, MB or IP and a name of 1 to 255 characters", f.JSON)
		}
	case []MsmProbe:
		for _, m := range x {
			if m.MsmID < 0 || m.ProbeID < 0 || m.ProbeID > math.MaxInt32 {
				return fmt.Errorf("%s: msmid must not be negative and probeid must be between 0 and 2147483647", f.JSON)
			}
		}
	}
	return nil
}

func (f *Field) bounds(x float64) error {
	if f.Min != nil && x < *f.Min || f.Max != nil && x > *f.Max {
		return fmt.Errorf("%s must be %s, got %v", f.JSON, f.span(), x)
	}
	return nil
}

// span says the numeric bounds: "between 0 and 1".
func (f *Field) span() string {
	lo, hi := "-inf", "inf"
	if f.Min != nil {
		lo = strconv.FormatFloat(*f.Min, 'f', -1, 64)
	}
	if f.Max != nil {
		hi = strconv.FormatFloat(*f.Max, 'f', -1, 64)
	}
	return "between " + lo + " and " + hi
}

func (f *Field) text(s string) error {
	switch {
	case f.Nonzero && s == "":
		return fmt.Errorf("%s must not be empty", f.JSON)
	case f.MaxLen > 0 && len(s) > f.MaxLen:
		return fmt.Errorf("%s must be at most %d bytes", f.JSON, f.MaxLen)
	case len(f.Enum) > 0 && !slices.Contains(f.Enum, s):
		return fmt.Errorf("%s must be one of %s, got %q", f.JSON, strings.Join(f.Enum, ", "), s)
	}
	return nil
}

// CheckRows validates the rows of one bin (a slice of the row type): every
// field by its rules, the part field against the bin, and the natural key
// unique.
func (d *Dataset) CheckRows(b Bin, rows any) error { return d.checkRows(b, rows, true) }

// CheckKeys checks only that the natural key is unique: for rows whose
// values were checked batch by batch.
func (d *Dataset) CheckKeys(b Bin, rows any) error { return d.checkRows(b, rows, false) }

func (d *Dataset) checkRows(b Bin, rows any, values bool) error {
	rv := reflect.ValueOf(rows)
	var key []int
	for i, f := range d.fields {
		if f.Key {
			key = append(key, i)
		}
	}
	seen := make(map[string]struct{}, rv.Len())
	var kb []byte
	for i := range rv.Len() {
		row := rv.Index(i)
		for j := range d.fields {
			if !values {
				break
			}
			f := &d.fields[j]
			if err := f.check(row, b); err != nil {
				return invalid("row %d: %v", i, err)
			}
			if f.Part && f.Value(row) != b.Part {
				return invalid("row %d: %s %v in a bin of part %q", i, f.JSON, f.Value(row), b.Part)
			}
		}
		if len(key) == 0 {
			continue
		}
		kb = kb[:0]
		for _, j := range key {
			kb = append(appendKey(kb, d.fields[j].Value(row)), 0)
		}
		if _, dup := seen[string(kb)]; dup {
			return invalid("row %d: the key (%s) appears twice", i, strings.ReplaceAll(strings.TrimSuffix(string(kb), "\x00"), "\x00", ", "))
		}
		seen[string(kb)] = struct{}{}
	}
	return nil
}

// appendKey appends a key field's value (fmt would be ten times slower).
func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10)
	case string:
		return append(b, x...)
	case bool:
		return strconv.AppendBool(b, x)
	case Location:
		return append(b, x.Key()...)
	case Identifier:
		return append(b, x.Key()...)
	}
	return fmt.Append(b, v)
}

// Columns is the COPY column list: timebin, af when the table has it, then
// the stored fields.
func (d *Dataset) Columns() []string {
	cols := []string{"timebin"}
	if d.AF == AFColumn {
		cols = append(cols, "af")
	}
	for _, f := range d.fields {
		if f.Column != "" {
			cols = append(cols, f.Column)
		}
	}
	return cols
}

// SetText sets field f of row (addressable) from its text form, as CSV
// dumps write it: psql's timestamps and t/f booleans are understood.
func (f *Field) SetText(row reflect.Value, s string) error {
	v := row.Field(f.index)
	if v.Kind() == reflect.Pointer {
		if s == "" {
			v.SetZero()
			return nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		v = v.Elem()
	}
	var err error
	switch f.Kind {
	case KindInt, KindASN:
		var n int64
		n, err = strconv.ParseInt(s, 10, 64)
		v.SetInt(n)
	case KindFloat:
		var x float64
		x, err = strconv.ParseFloat(s, 64)
		v.SetFloat(x)
	case KindText, KindCountry:
		v.SetString(s)
	case KindBool:
		var b bool
		b, err = ParseBool(s)
		v.SetBool(b)
	case KindTime:
		var t time.Time
		t, err = ParseTime(s)
		v.Set(reflect.ValueOf(t))
	case KindJSON:
		if s != "" {
			v.SetBytes([]byte(s))
		}
	default:
		return fmt.Errorf("%s has no text form", f.JSON)
	}
	if err != nil {
		return fmt.Errorf("%s: %q is not a %s", f.JSON, s, f.Kind)
	}
	return nil
}

// SetValue sets field f of row (addressable) to v, a value of the field's type.
func (f *Field) SetValue(row reflect.Value, v any) { row.Field(f.index).Set(reflect.ValueOf(v)) }

// ParseBool reads t/f (psql), true/false and 1/0.
func ParseBool(s string) (bool, error) {
	switch s {
	case "t", "true", "True", "1":
		return true, nil
	case "f", "false", "False", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// ParseTime reads psql's text form of timestamptz ("2024-05-01 00:15:00+00") or RFC 3339.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05-07", "2006-01-02 15:04:05-07:00", "2006-01-02 15:04:05.999999-07", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
