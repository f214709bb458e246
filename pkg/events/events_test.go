package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const validRows = `{"schema":"ihr.rows/v1","dataset":"hegemony","af":4,"timebin":"2026-12-04T00:15:00Z","bin_seconds":900,
 "producer":{"name":"test"},"run_id":"r1","batch_seq":0,"rows":[{"originasn":2497,"asn":2497,"hege":1.0},{"originasn":0,"asn":3356,"hege":0,"nb_peers":3}]}`

func TestDecodeHegemonyRows(t *testing.T) {
	m, err := Hegemony.DecodeRows([]byte(validRows))
	if err != nil {
		t.Fatal(err)
	}
	rows := m.Rows.([]HegemonyRow)
	if len(rows) != 2 || rows[1].OriginASN != 0 || *rows[1].NbPeers != 3 || m.Timebin.Location() != time.UTC {
		t.Fatalf("decoded %+v", m)
	}
	tests := []struct{ name, from, to, reason string }{
		{"unknown schema", `"ihr.rows/v1"`, `"ihr.rows/v9"`, "unknown schema"},
		{"hege too high", `"hege":1.0}`, `"hege":1.7}`, "hege must be between 0 and 1"},
		{"negative hege", `"hege":0,`, `"hege":-0.1,`, "hege must be between 0 and 1"},
		{"bad af", `"af":4`, `"af":5`, "af must be 4 or 6"},
		{"misaligned", `00:15:00Z`, `00:16:00Z`, "not aligned"},
		{"other bin size", `"bin_seconds":900`, `"bin_seconds":60`, "bin_seconds must be 900"},
		{"negative asn", `"originasn":0,`, `"originasn":-4,`, "originasn must be an AS number"},
		{"duplicate key", `{"originasn":0,"asn":3356`, `{"originasn":2497,"asn":2497`, "appears twice"},
		{"unknown field", `"batch_seq":0`, `"batch_seq":0,"colour":"blue"`, "unknown field"},
		{"bad run id", `"run_id":"r1"`, `"run_id":"r 1"`, "run_id"},
		{"wrong dataset", `"dataset":"hegemony"`, `"dataset":"atlas_delay"`, "dataset"},
		{"not json", `{"schema"`, `["schema"`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validRows, tt.from, tt.to, 1)
			if in == validRows {
				t.Fatalf("test does not change the message")
			}
			_, err := Hegemony.DecodeRows([]byte(in))
			if !IsInvalid(err) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("got %v, want an invalid message saying %q", err, tt.reason)
			}
		})
	}
}

func TestBatchRowLimit(t *testing.T) {
	m := Rows[HegemonyRow]{BatchHeader: BatchHeader{Schema: SchemaRows, Bin: Hegemony.NewBin(4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "r")}}
	for i := range MaxBatchRows + 1 {
		m.Rows = append(m.Rows, HegemonyRow{OriginASN: int64(i), ASN: 1, Hege: 0.5})
	}
	b, _ := json.Marshal(m)
	if _, err := Hegemony.DecodeRows(b); !IsInvalid(err) {
		t.Fatalf("a batch over %d rows: %v", MaxBatchRows, err)
	}
}

func TestDecodeBinComplete(t *testing.T) {
	ok := `{"schema":"ihr.bin/v1","dataset":"hegemony","af":6,"timebin":"2026-12-04T00:00:00+01:00","bin_seconds":900,"run_id":"r1","batch_count":2,"row_count":7}`
	m, err := Hegemony.DecodeBinComplete([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if m.Timebin != time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC) {
		t.Errorf("timebin %v not normalised to UTC", m.Timebin)
	}
	for _, bad := range []string{
		strings.Replace(ok, `"batch_count":2`, `"batch_count":0`, 1),
		strings.Replace(ok, `"ihr.bin/v1"`, `"ihr.rows/v1"`, 1),
	} {
		if _, err := Hegemony.DecodeBinComplete([]byte(bad)); !IsInvalid(err) {
			t.Errorf("accepted %s: %v", bad, err)
		}
	}
}

func TestIDs(t *testing.T) {
	b := Hegemony.NewBin(4, time.Date(2026, 12, 4, 0, 15, 0, 0, time.UTC), "01J")
	if got := b.MsgID(3); got != "hegemony:4:1796343300:01J:3" {
		t.Errorf("batch id %s", got)
	}
	if got := b.MsgID(-1); got != "hegemony:4:1796343300:01J:complete" {
		t.Errorf("bin id %s", got)
	}
	if got := b.ResultMsgID(); got != "result:hegemony:4:1796343300:01J" {
		t.Errorf("result id %s", got)
	}
}

func FuzzDecodeHegemonyRows(f *testing.F) {
	f.Add([]byte(validRows))
	f.Add([]byte(`{"schema":"ihr.rows/v1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Hegemony.DecodeRows(data)
		if err != nil {
			if !IsInvalid(err) {
				t.Fatalf("error that is not a validation error: %v", err)
			}
			return
		}
		for _, r := range m.Rows.([]HegemonyRow) {
			if r.Hege < 0 || r.Hege > 1 || r.ASN < 0 || r.OriginASN < 0 {
				t.Fatalf("accepted an invalid row %+v", r)
			}
		}
	})
}
