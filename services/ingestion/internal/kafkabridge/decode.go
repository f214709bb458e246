package kafkabridge

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/vmihailenco/msgpack/v5"
)

// Why a row or a message was not published (the reason label of the
// rows-dropped metric).
const (
	reasonUndecodable = "undecodable" // not msgpack, a field missing or of the wrong type
	reasonFiltered    = "filtered"    // a rule of IHR's sink: hege 0, fewer than 10 peers, ...
	reasonInvalid     = "invalid"     // refused by the dataset's validation
	reasonDuplicate   = "duplicate"   // its natural key appeared before in the bin
	reasonMisaligned  = "misaligned"  // its timestamp is not a bin of the dataset
	reasonLate        = "late"        // its bin was published already
)

// dropped is a row the bridge does not publish, and why.
type dropped struct{ reason, detail string }

func (d *dropped) Error() string { return d.reason + ": " + d.detail }

func drop(reason, format string, args ...any) *dropped {
	return &dropped{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// message is one msgpack map. Its accessors keep the first problem, so a
// decoder reads every field and checks once.
type message struct {
	m   map[string]any
	err *dropped
}

// decoder maps a message to a row of the route's dataset and the row's
// address family.
type decoder func(m *message, r Route) (row any, af int)

// decoders are the message shapes of IHR's result topics, by dataset.
var decoders = map[string]decoder{
	events.Hegemony.Name:         hegemony,
	events.HegemonyCountry.Name:  countryHegemony,
	events.AtlasDelay.Name:       atlasDelay,
	events.HegemonyAlarms.Name:   hegemonyAlarm,
	events.AtlasDelayAlarms.Name: atlasDelayAlarm,
	events.MetisSelection.Name:   metisSelection,
	events.MetisDeployment.Name:  metisDeployment,
	events.TRHegemony.Name:       trHegemony,
}

func bridged() []string {
	var names []string
	for n := range decoders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// decodeRow turns a Kafka message value into a row of the route's dataset
// (*dropped when it cannot or must not be published).
func (r Route) decodeRow(value []byte) (any, int, *dropped) {
	// msgpack sizes a map's allocation by its declared length, which a
	// 5-byte message can set to billions: walking the value first rejects
	// lengths that the bytes cannot hold.
	if err := msgpack.NewDecoder(bytes.NewReader(value)).Skip(); err != nil {
		return nil, 0, drop(reasonUndecodable, "not msgpack: %v", err)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(value))
	dec.UseLooseInterfaceDecoding(true) // integers as int64/uint64, floats as float64
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, 0, drop(reasonUndecodable, "not a msgpack map: %v", err)
	}
	msg := &message{m: m}
	row, af := r.decode(msg, r)
	if msg.err != nil {
		return nil, 0, msg.err
	}
	return row, af, nil
}

// AS hegemony: {timestamp, scope, asn, hege, nb_peers}. Scope "-1" is the
// global graph (originasn 0) and rows with hege 0 are not stored, as the sink did.
func hegemony(m *message, r Route) (any, int) {
	row := events.HegemonyRow{OriginASN: m.scope("scope"), ASN: m.int("asn"), Hege: m.float("hege")}
	if n, ok := m.optInt("nb_peers"); ok {
		row.NbPeers = &n
	}
	if row.Hege == 0 {
		m.filter("hege is 0")
	}
	return row, r.AF
}

// Country hegemony: {ts, cc, weight ("AS"/"eyeball"), transit_only, asn,
// hege, original_weight}; hege 0 is not stored, as the sink did.
func countryHegemony(m *message, r Route) (any, int) {
	row := events.CountryHegemonyRow{Country: m.str("cc"), ASN: m.int("asn"), Hege: m.float("hege"),
		Weight: m.float("original_weight"), WeightScheme: strings.ToLower(m.str("weight")), TransitOnly: m.bool("transit_only")}
	if row.Hege == 0 {
		m.filter("hege is 0")
	}
	return row, r.AF
}

// Raclette: {ts, startpoint, endpoint, median, nb_tracks, nb_probes,
// entropy, hop, nb_real_rtts}; the row belongs to its startpoint's family.
func atlasDelay(m *message, r Route) (any, int) {
	row := events.AtlasDelayRow{Startpoint: m.location("startpoint", r.AF), Endpoint: m.location("endpoint", r.AF),
		Median: m.float("median"), NbTracks: m.int("nb_tracks"), NbProbes: m.int("nb_probes"), Entropy: m.float("entropy"),
		Hop: m.int("hop"), NbRealRTTs: m.int("nb_real_rtts")}
	return row, row.Startpoint.AF
}

// The generic anomaly detector's output: {datapoint: <hegemony message>, deviation}.
func hegemonyAlarm(m *message, r Route) (any, int) {
	return events.HegemonyAlarmRow{OriginASN: m.scope("scope"), ASN: m.int("asn"), Deviation: m.float("deviation")}, r.AF
}

// The generic anomaly detector's output: {datapoint: <raclette message>, deviation}.
func atlasDelayAlarm(m *message, r Route) (any, int) {
	row := events.AtlasDelayAlarmRow{Startpoint: m.location("startpoint", r.AF), Endpoint: m.location("endpoint", r.AF),
		Deviation: m.float("deviation")}
	return row, row.Startpoint.AF
}

// Metis ranks: {timestamp, rank, asn, mean}; the metric is the route's part.
func metisSelection(m *message, r Route) (any, int) {
	return events.MetisSelectionRow{Metric: r.Part, Rank: m.int("rank"), ASN: m.int("asn"), Mean: m.float("mean")}, r.AF
}

// Metis candidates: the ranks plus num_samples.
func metisDeployment(m *message, r Route) (any, int) {
	return events.MetisDeploymentRow{Metric: r.Part, Rank: m.int("rank"), ASN: m.int("asn"), Mean: m.float("mean"),
		NbSamples: m.int("num_samples")}, r.AF
}

// Traceroute hegemony: hegemony messages whose scope and asn are
// identifiers (as|…, ip|…, ix|…, ix|…;as|…). Rows from fewer than 10 peers
// are not stored, as the sink did. The timestamp is taken as it is (no +3
// weeks, see docs/operations.md).
func trHegemony(m *message, r Route) (any, int) {
	row := events.TRHegemonyRow{Origin: m.identifier("scope"), Dependency: m.identifier("asn"), Hege: m.float("hege"),
		NbSamples: m.int("nb_peers")}
	if m.err == nil && row.NbSamples < 10 {
		m.filter("nb_peers %d < 10", row.NbSamples)
	}
	return row, r.AF
}

func (m *message) fail(format string, args ...any) {
	if m.err == nil {
		m.err = drop(reasonUndecodable, format, args...)
	}
}

func (m *message) filter(format string, args ...any) {
	if m.err == nil {
		m.err = drop(reasonFiltered, format, args...)
	}
}

// get finds a field at the top level, then in the anomaly detector's
// datapoint, as IHR's generic sink does.
func (m *message) get(name string) (any, bool) {
	if v, ok := m.m[name]; ok && v != nil {
		return v, true
	}
	if dp, ok := m.m["datapoint"].(map[string]any); ok {
		v, ok := dp[name]
		return v, ok && v != nil
	}
	return nil, false
}

func (m *message) must(name string) any {
	v, ok := m.get(name)
	if !ok {
		m.fail("field %s missing", name)
	}
	return v
}

// typed reads a field that must hold a T.
func typed[T any](m *message, name, want string) T {
	var zero T
	switch v := m.must(name).(type) {
	case nil:
	case T:
		return v
	default:
		m.fail("%s is a %T, want %s", name, v, want)
	}
	return zero
}

func (m *message) str(name string) string { return typed[string](m, name, "a string") }

func (m *message) bool(name string) bool { return typed[bool](m, name, "a boolean") }

// int reads an integer the way Python's int() would: from an integer, a
// float (truncated) or a decimal string.
func (m *message) int(name string) int64 {
	n, err := toInt(m.must(name))
	if err != nil {
		m.fail("%s: %v", name, err)
	}
	return n
}

func (m *message) optInt(name string) (int64, bool) {
	if _, ok := m.get(name); !ok {
		return 0, false
	}
	return m.int(name), true
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil // reported missing already
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is too large", x)
		}
		return int64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxInt64 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	}
	return 0, fmt.Errorf("a %T is not an integer", v)
}

func (m *message) float(name string) float64 {
	switch v := m.must(name).(type) {
	case nil:
	case float64:
		return v
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			m.fail("%s: %v", name, err)
		}
		return f
	default:
		m.fail("%s is a %T, want a number", name, v)
	}
	return 0
}

// scope is an origin AS; "-1" (the global graph) becomes 0.
func (m *message) scope(name string) int64 {
	if n := m.int(name); n != -1 {
		return n
	}
	return 0
}

// location parses an Atlas location: a 2-character type, a name and an
// optional v4/v6 suffix (def when missing; the sink appended v4).
func (m *message) location(name string, def int) events.Location {
	s := m.str(name)
	spelled, af := s, def
	switch {
	case strings.HasSuffix(s, "v4"):
		af, s = 4, s[:len(s)-2]
	case strings.HasSuffix(s, "v6"):
		af, s = 6, s[:len(s)-2]
	}
	if len(s) < 3 {
		m.fail("%s %q is not a location (type, name, v4 or v6)", name, spelled)
		return events.Location{}
	}
	return events.Location{Type: s[:2], Name: s[2:], AF: af}
}

// identifier parses a traceroute hegemony identifier. An IX member whose
// AS is unknown (as|0) is filtered, as the sink did.
func (m *message) identifier(name string) events.Identifier {
	s := m.str(name)
	kind, rest, _ := strings.Cut(s, "|")
	switch {
	case m.err != nil:
	case kind == "as" && rest != "":
		return events.Identifier{Type: "AS", Name: rest}
	case kind == "ip" && rest != "":
		return events.Identifier{Type: "IP", Name: rest}
	case kind == "ix" && strings.Contains(rest, ";"):
		ix, asn, _ := strings.Cut(rest, ";")
		asn = strings.TrimPrefix(asn, "as|")
		if asn == "0" {
			m.filter("%s %q: IX member without an AS", name, s)
		}
		return events.Identifier{Type: "MB", Name: ix + ";" + asn}
	case kind == "ix" && rest != "":
		return events.Identifier{Type: "IX", Name: rest}
	default:
		m.fail("%s %q is not an identifier (as|…, ip|…, ix|…, ix|…;as|…)", name, s)
	}
	return events.Identifier{}
}
