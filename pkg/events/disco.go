package events

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// SchemaDisco is the contract of disco outage events.
const SchemaDisco = "ihr.disco/v1"

// Disco outage events are not binned: an event is opened when probes of a
// stream disconnect together, closed when they are back, and dropped when it
// proves too short to matter. Each message carries the whole state of the
// event it changes, keyed by (streamtype, streamname, starttime).
const (
	DiscoOpen  = "open"
	DiscoClose = "close"
	DiscoDrop  = "drop"
	// Disco is the dataset name of disco events (subject ihr.ingest.disco.events).
	Disco = "disco"
)

// DiscoEvent is one change of an outage event.
type DiscoEvent struct {
	Schema     string    `json:"schema"`
	Op         string    `json:"op"`
	Producer   Producer  `json:"producer"`
	StreamType string    `json:"streamtype"`
	StreamName string    `json:"streamname"`
	StartTime  time.Time `json:"starttime"`
	// EndTime closes the event (op close).
	EndTime *time.Time `json:"endtime,omitempty"`
	// Measures of an opened event (op open).
	AvgLevel      *float64     `json:"avglevel,omitempty"`
	NbDiscoProbes *int64       `json:"nbdiscoprobes,omitempty"`
	TotalProbes   *int64       `json:"totalprobes,omitempty"`
	Probes        []DiscoProbe `json:"probes,omitempty"`
}

// DiscoProbe is a probe of an event: when it disconnected and, once known,
// when it came back.
type DiscoProbe struct {
	ProbeID   int64      `json:"probe_id"`
	StartTime time.Time  `json:"starttime"`
	EndTime   *time.Time `json:"endtime,omitempty"`
	Level     float64    `json:"level"`
	IPv4      string     `json:"ipv4"`
	PrefixV4  string     `json:"prefixv4"`
	Lat       float64    `json:"lat"`
	Lon       float64    `json:"lon"`
}

// DiscoSubject is where disco events are published.
func DiscoSubject() string { return "ihr.ingest." + Disco + ".events" }

// Key identifies the event a message changes.
func (e *DiscoEvent) Key() string {
	return Disco + ":" + e.StreamType + ":" + e.StreamName + ":" + e.StartTime.UTC().Format(time.RFC3339)
}

// MsgID de-duplicates a message: the event, the op and a digest of the
// content, so a later update of the same event is not taken for a copy.
func (e *DiscoEvent) MsgID(data []byte) string {
	sum := sha256.Sum256(data)
	return e.Key() + ":" + e.Op + ":" + hex.EncodeToString(sum[:6])
}

// DecodeDisco parses and validates a disco event.
func DecodeDisco(data []byte) (*DiscoEvent, error) {
	if _, err := expectSchema(data, SchemaDisco); err != nil {
		return nil, err
	}
	var e DiscoEvent
	if err := decodeStrict(data, &e); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	e.StartTime = e.StartTime.UTC()
	if e.EndTime != nil {
		t := e.EndTime.UTC()
		e.EndTime = &t
	}
	return &e, nil
}

func (e *DiscoEvent) check() error {
	switch {
	case !slices.Contains([]string{DiscoOpen, DiscoClose, DiscoDrop}, e.Op):
		return invalid("op must be open, close or drop, got %q", e.Op)
	case !slices.Contains([]string{"asn", "country", "admin1", "admin2"}, e.StreamType):
		return invalid("streamtype must be asn, country, admin1 or admin2, got %q", e.StreamType)
	case e.StreamName == "" || len(e.StreamName) > 128:
		return invalid("streamname must be 1 to 128 bytes")
	case e.StartTime.IsZero():
		return invalid("starttime missing")
	case e.Op == DiscoClose && (e.EndTime == nil || e.EndTime.Before(e.StartTime)):
		return invalid("close needs an endtime not before starttime")
	case e.Op == DiscoOpen && (e.AvgLevel == nil || e.TotalProbes == nil || *e.TotalProbes < 0 || *e.TotalProbes > 1<<31-1):
		return invalid("open needs avglevel and totalprobes (0 to 2147483647)")
	case e.NbDiscoProbes != nil && (*e.NbDiscoProbes < 0 || *e.NbDiscoProbes > 1<<31-1):
		return invalid("nbdiscoprobes must be between 0 and 2147483647")
	case len(e.Probes) > MaxBatchRows:
		return invalid("%d probes in one message, at most %d", len(e.Probes), MaxBatchRows)
	}
	seen := make(map[int64]bool, len(e.Probes))
	for i, p := range e.Probes {
		switch {
		case p.ProbeID < 0 || p.ProbeID > 1<<31-1:
			return invalid("probe %d: probe_id must be between 0 and 2147483647", i)
		case seen[p.ProbeID]:
			return invalid("probe %d: probe_id %d appears twice", i, p.ProbeID)
		case p.StartTime.IsZero() && e.Op == DiscoOpen:
			return invalid("probe %d: starttime missing", i)
		case p.EndTime != nil && p.EndTime.Before(p.StartTime):
			return invalid("probe %d: endtime before starttime", i)
		case len(p.IPv4) > 64 || len(p.PrefixV4) > 70:
			return invalid("probe %d: ipv4 is at most 64 bytes and prefixv4 70", i)
		case !(p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180):
			return invalid("probe %d: lat must be within ±90 and lon within ±180", i)
		}
		seen[p.ProbeID] = true
	}
	return nil
}
