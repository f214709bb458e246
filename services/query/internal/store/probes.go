package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/services/query/internal/jsonenc"
)

// probeFields are the members of a disco probe, in legacy order, and how
// each of the SQL array's values is written.
var probeFields = []struct {
	name string
	kind byte // i int, s string, t time, f float (sent as text to keep every digit)
}{
	{"probe_id", 'i'}, {"ipv4", 's'}, {"prefixv4", 's'}, {"event", 'i'},
	{"starttime", 't'}, {"endtime", 't'}, {"level", 'f'}, {"lat", 'f'}, {"lon", 'f'},
}

// probes re-encodes the JSON array of probe rows built by PostgreSQL with
// the legacy API's number and time formatting.
func probes(b []byte, raw string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var rows [][]any
	if err := dec.Decode(&rows); err != nil {
		return b, fmt.Errorf("disco probes: %w", err)
	}
	b = append(b, '[')
	for i, row := range rows {
		if len(row) != len(probeFields) {
			return b, fmt.Errorf("disco probes: %d values in a row", len(row))
		}
		if i > 0 {
			b = append(b, ',')
		}
		for j, f := range probeFields {
			if j == 0 {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			b = jsonenc.String(b, f.name)
			b = append(b, ':')
			var err error
			if b, err = probeValue(b, f.kind, row[j]); err != nil {
				return b, fmt.Errorf("disco probes %s: %w", f.name, err)
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func probeValue(b []byte, kind byte, v any) ([]byte, error) {
	switch kind {
	case 'i':
		n, ok := v.(json.Number)
		if !ok {
			return b, fmt.Errorf("not a number: %v", v)
		}
		return append(b, n...), nil
	case 't':
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return b, err
		}
		return jsonenc.Time(b, t), nil
	case 'f':
		s, _ := v.(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return b, err
		}
		return jsonenc.Float(b, f), nil
	}
	s, _ := v.(string)
	return jsonenc.String(b, s), nil
}
