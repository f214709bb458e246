package events

import (
	"encoding/json"
	"reflect"
	"time"
)

// Batch is a decoded and validated batch: its header and its rows, a slice
// of the dataset's row type.
type Batch struct {
	BatchHeader
	Rows any
	Len  int
}

// DecodeRows parses and validates a batch of the dataset's rows.
func (d *Dataset) DecodeRows(data []byte) (*Batch, error) {
	if len(data) > 2*MaxBatchBytes {
		return nil, invalid("a batch of %d bytes, at most %d", len(data), MaxBatchBytes)
	}
	if _, err := expectSchema(data, SchemaRows); err != nil {
		return nil, err
	}
	var m struct {
		BatchHeader
		Rows json.RawMessage `json:"rows"`
	}
	if err := decodeStrict(data, &m); err != nil {
		return nil, err
	}
	if err := m.Bin.check(d); err != nil {
		return nil, err
	}
	if m.BatchSeq < 0 {
		return nil, invalid("batch_seq must not be negative")
	}
	rows := reflect.New(reflect.SliceOf(d.RowType()))
	if len(m.Rows) > 0 {
		if err := decodeStrict(m.Rows, rows.Interface()); err != nil {
			return nil, err
		}
	}
	b := &Batch{BatchHeader: m.BatchHeader, Rows: rows.Elem().Interface(), Len: rows.Elem().Len()}
	if b.Len > MaxBatchRows {
		return nil, invalid("%d rows in one batch, at most %d", b.Len, MaxBatchRows)
	}
	if err := d.CheckRows(b.Bin, b.Rows); err != nil {
		return nil, err
	}
	b.Timebin = b.Timebin.UTC()
	return b, nil
}

// DecodeBinComplete parses and validates the bin message of a dataset.
func (d *Dataset) DecodeBinComplete(data []byte) (*BinComplete, error) {
	if _, err := expectSchema(data, SchemaBin); err != nil {
		return nil, err
	}
	var m BinComplete
	if err := decodeStrict(data, &m); err != nil {
		return nil, err
	}
	if err := m.Bin.check(d); err != nil {
		return nil, err
	}
	if m.BatchCount < 1 || m.RowCount < 0 {
		return nil, invalid("batch_count must be at least 1 and row_count not negative")
	}
	m.Timebin = m.Timebin.UTC()
	return &m, nil
}

// CheckBin validates a bin's identity against the dataset.
func (d *Dataset) CheckBin(b Bin) error { return b.check(d) }

// NewBin names a bin of the dataset.
func (d *Dataset) NewBin(af int, timebin time.Time, runID string) Bin {
	return Bin{Dataset: d.Name, AF: af, Timebin: timebin.UTC(), BinSeconds: d.BinSeconds, RunID: runID}
}

// DecodeResult parses a results event.
func DecodeResult(data []byte) (*Result, error) {
	if _, err := expectSchema(data, SchemaResults); err != nil {
		return nil, err
	}
	var m Result
	if err := decodeStrict(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}
