// Package events holds the message contracts shared by producers and
// consumers: the ingest envelopes pipelines publish bin by bin, and the
// results events ingestion publishes after a bin is committed. Every message
// names its schema; an unknown schema is rejected, never guessed at.
package events

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
)

// Schemas of the messages of contract version 1.
const (
	SchemaRows    = "ihr.rows/v1"
	SchemaBin     = "ihr.bin/v1"
	SchemaResults = "ihr.results/v1"
)

// Limits that keep every message well under the NATS max payload (1 MiB).
const (
	MaxBatchRows  = 5000
	MaxBatchBytes = 512 << 10
)

// Producer identifies what published a message.
type Producer struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Host    string `json:"host,omitempty"`
}

// Bin identifies one run's results for one time bin of a dataset and address family.
type Bin struct {
	Dataset    string    `json:"dataset"`
	AF         int       `json:"af"`
	Timebin    time.Time `json:"timebin"`
	BinSeconds int       `json:"bin_seconds"`
	// Part splits a dataset's bin further (the metric of metis datasets).
	Part  string `json:"part,omitempty"`
	RunID string `json:"run_id"`
}

// BatchHeader is a batch without its rows.
type BatchHeader struct {
	Schema string `json:"schema"`
	Bin
	Producer Producer `json:"producer"`
	BatchSeq int      `json:"batch_seq"`
	// Complete marks a bin sent as this single batch: no bin message follows.
	Complete bool `json:"bin_complete,omitempty"`
}

// Rows is a batch of a bin's rows (subject ihr.ingest.<dataset>.rows).
type Rows[R any] struct {
	BatchHeader
	Rows []R `json:"rows"`
}

// BinComplete closes a bin (subject ihr.ingest.<dataset>.bin): the bin is
// committed once all batch_count batches, row_count rows in all, are held.
type BinComplete struct {
	Schema string `json:"schema"`
	Bin
	Producer   Producer `json:"producer"`
	BatchCount int      `json:"batch_count"`
	RowCount   int      `json:"row_count"`
}

// Result announces a committed bin (subject ihr.results.<dataset>). It never
// carries the rows: caches and subscribers use the keys to know what changed.
type Result struct {
	Schema string `json:"schema"`
	Bin
	// Op is what happened to a disco event: open, close or drop.
	Op string `json:"op,omitempty"`
	// Replaced tells that an earlier run of the bin was replaced; PreviousRunID names it.
	Replaced      bool   `json:"replaced"`
	PreviousRunID string `json:"previous_run_id,omitempty"`
	// Keys are the affected numeric keys per field (e.g. "originasn",
	// "asn"), sorted; TextKeys the others (countries, locations as
	// CT4London, England, GB, identifiers as AS|2497). AllKeys replaces
	// both when a field has more than MaxResultKeys.
	Keys        map[string][]int64  `json:"keys,omitempty"`
	TextKeys    map[string][]string `json:"text_keys,omitempty"`
	AllKeys     bool                `json:"all_keys,omitempty"`
	RowCount    int                 `json:"row_count"`
	CommittedAt time.Time           `json:"committed_at"`
}

// MaxResultKeys bounds the keys of one kind a results event lists.
const MaxResultKeys = 2000

// Subjects of a dataset, before any deployment prefix.
func RowsSubject(dataset string) string    { return "ihr.ingest." + dataset + ".rows" }
func BinSubject(dataset string) string     { return "ihr.ingest." + dataset + ".bin" }
func ResultsSubject(dataset string) string { return "ihr.results." + dataset }

// AnnounceSubject carries, as a plain NATS message (not stored), each
// results event before it is published on ResultsSubject: caches hear of a
// change before any consumer of the stream can (docs/caching.md).
func AnnounceSubject(dataset string) string { return "ihr.announce." + dataset }

// AnnounceLead is how long a publisher waits, once the server has taken an
// announcement (a flush came back), before it publishes the event to the
// stream. A cache that heard back from the server within the lead before a
// read began therefore holds every announcement of an event the reader can
// know of, without a round trip of its own (docs/caching.md). Publishers
// and caches must agree on it, so it is part of the contract, not a setting.
const AnnounceLead = 50 * time.Millisecond

// MsgID is the JetStream de-duplication id of a batch (seq >= 0) or of the
// bin message (seq < 0): dataset[/part]:af:timebin_unix:run_id:batch_seq|complete.
func (b Bin) MsgID(seq int) string {
	tail := "complete"
	if seq >= 0 {
		tail = strconv.Itoa(seq)
	}
	return fmt.Sprintf("%s:%d:%d:%s:%s", b.name(), b.AF, b.Timebin.Unix(), b.RunID, tail)
}

// ResultMsgID de-duplicates results events: one per committed run of a bin.
func (b Bin) ResultMsgID() string {
	return fmt.Sprintf("result:%s:%d:%d:%s", b.name(), b.AF, b.Timebin.Unix(), b.RunID)
}

// Key is the bin's identity without the run: the unit that a run replaces.
func (b Bin) Key() string {
	return fmt.Sprintf("%s:%d:%s", b.name(), b.AF, b.Timebin.UTC().Format(time.RFC3339))
}

func (b Bin) name() string {
	if b.Part == "" {
		return b.Dataset
	}
	return b.Dataset + "/" + b.Part
}

// Invalid is a message that can never be accepted: it goes to the DLQ.
type Invalid struct{ Reason string }

func (e *Invalid) Error() string { return "invalid message: " + e.Reason }

func invalid(format string, args ...any) error {
	return &Invalid{Reason: fmt.Sprintf(format, args...)}
}

// IsInvalid reports whether err is a permanent validation failure.
func IsInvalid(err error) bool {
	var e *Invalid
	return errors.As(err, &e)
}

// validRunID keeps run ids usable in message ids and logs.
func validRunID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return false
		}
	}
	return true
}

// check validates the bin fields against the dataset's declaration.
func (b Bin) check(d *Dataset) error {
	part := d.PartField()
	align := time.Duration(d.AlignSeconds()) * time.Second
	offset := time.Duration(d.Offset) * time.Second
	switch {
	case b.Dataset != d.Name:
		return invalid("dataset %q on a %s subject", b.Dataset, d.Name)
	case d.AF == AFNone && b.AF != 0:
		return invalid("af must be 0 for %s (its table has no address family), got %d", d.Name, b.AF)
	case d.AF != AFNone && b.AF != 4 && b.AF != 6:
		return invalid("af must be 4 or 6, got %d", b.AF)
	case b.BinSeconds != d.BinSeconds:
		return invalid("bin_seconds must be %d for %s, got %d", d.BinSeconds, d.Name, b.BinSeconds)
	case b.Timebin.IsZero():
		return invalid("timebin missing")
	case !b.Timebin.Add(-offset).Equal(b.Timebin.Add(-offset).Truncate(align)):
		return invalid("timebin %s is not aligned to %s bins (multiples of %d s, plus %d s)", b.Timebin.UTC().Format(time.RFC3339), d.Name, d.AlignSeconds(), d.Offset)
	case !validRunID(b.RunID):
		return invalid("run_id must be 1 to 64 letters, digits, '-', '_' or '.'")
	case part == nil && b.Part != "":
		return invalid("%s bins have no part", d.Name)
	case part != nil:
		if err := part.text(b.Part); err != nil || b.Part == "" {
			return invalid("part must name the bin's %s (%s)", part.JSON, strings.Join(part.Enum, ", "))
		}
	}
	return nil
}

// decodeStrict decodes JSON, rejecting unknown fields and trailing data.
// goccy/go-json decodes batches three times faster than encoding/json;
// the fuzz test keeps it honest on hostile input.
func decodeStrict(data []byte, v any) error {
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("%v", err)
	}
	if dec.More() {
		return invalid("trailing data after the JSON object")
	}
	return nil
}

// schemaOf reads only the schema field, to reject unknown schemas first.
func schemaOf(data []byte) (string, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	// goccy skips the rest of a batch ten times faster than encoding/json.
	if err := gojson.Unmarshal(data, &head); err != nil {
		return "", invalid("not a JSON object: %v", err)
	}
	return head.Schema, nil
}

func expectSchema(data []byte, want ...string) (string, error) {
	s, err := schemaOf(data)
	if err != nil {
		return "", err
	}
	if !slices.Contains(want, s) {
		return "", invalid("unknown schema %q (want %s)", s, strings.Join(want, " or "))
	}
	return s, nil
}
