package events

import "time"

// Dataset declares what ingestion needs to know of one dataset.
type Dataset struct {
	Name       string
	BinSeconds int
}

// Hegemony is AS hegemony: 15-minute bins, table ihr_hegemony (and the
// derived ihr_hegemonycone).
var Hegemony = Dataset{Name: "hegemony", BinSeconds: 900}

// HegemonyRow is one dependency of an origin AS in a bin. OriginASN 0 is the
// global graph.
type HegemonyRow struct {
	OriginASN int64   `json:"originasn"`
	ASN       int64   `json:"asn"`
	Hege      float64 `json:"hege"`
	NbPeers   *int64  `json:"nb_peers,omitempty"`
}

func (r HegemonyRow) check(i int) error {
	switch {
	case r.OriginASN < 0 || r.ASN < 0 || r.OriginASN > 1<<32-1 || r.ASN > 1<<32-1:
		return invalid("row %d: ASNs must be between 0 and 4294967295 (originasn %d, asn %d)", i, r.OriginASN, r.ASN)
	case !(r.Hege >= 0 && r.Hege <= 1):
		return invalid("row %d: hege must be between 0 and 1, got %v", i, r.Hege)
	case r.NbPeers != nil && *r.NbPeers < 0:
		return invalid("row %d: nb_peers must not be negative", i)
	}
	return nil
}

// DecodeHegemonyRows parses and validates a hegemony batch.
func DecodeHegemonyRows(data []byte) (*Rows[HegemonyRow], error) {
	if _, err := expectSchema(data, SchemaRows); err != nil {
		return nil, err
	}
	var m Rows[HegemonyRow]
	if err := decodeStrict(data, &m); err != nil {
		return nil, err
	}
	if err := m.Bin.check(Hegemony); err != nil {
		return nil, err
	}
	if m.BatchSeq < 0 {
		return nil, invalid("batch_seq must not be negative")
	}
	if len(m.Rows) > MaxBatchRows {
		return nil, invalid("%d rows in one batch, at most %d", len(m.Rows), MaxBatchRows)
	}
	if err := CheckHegemonyRows(m.Rows); err != nil {
		return nil, err
	}
	m.Timebin = m.Timebin.UTC()
	return &m, nil
}

// CheckHegemonyRows validates rows of one bin: values in range, each
// (originasn, asn) pair once.
func CheckHegemonyRows(rows []HegemonyRow) error {
	type key struct{ o, a int64 }
	seen := make(map[key]struct{}, len(rows))
	for i, r := range rows {
		if err := r.check(i); err != nil {
			return err
		}
		k := key{r.OriginASN, r.ASN}
		if _, dup := seen[k]; dup {
			return invalid("row %d: originasn %d, asn %d appears twice", i, r.OriginASN, r.ASN)
		}
		seen[k] = struct{}{}
	}
	return nil
}

// CheckBin validates a bin's identity against its dataset.
func CheckBin(b Bin, d Dataset) error { return b.check(d) }

// DecodeBinComplete parses and validates the bin message of a dataset.
func DecodeBinComplete(data []byte, d Dataset) (*BinComplete, error) {
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

// NewHegemonyBin names a hegemony bin.
func NewHegemonyBin(af int, timebin time.Time, runID string) Bin {
	return Bin{Dataset: Hegemony.Name, AF: af, Timebin: timebin.UTC(), BinSeconds: Hegemony.BinSeconds, RunID: runID}
}
