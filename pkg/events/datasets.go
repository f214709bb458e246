package events

import (
	"encoding/json"
	"sort"
)

// Row types of the binned datasets. Each field's json tag names it in a row,
// its ihr tag its column and rules (see Dataset).

// HegemonyRow is one dependency of an origin AS in a bin. OriginASN 0 is the
// global graph. nb_peers is accepted for producers that send it; not stored.
type HegemonyRow struct {
	OriginASN int64   `json:"originasn" ihr:"originasn_id,asn,key,report"`
	ASN       int64   `json:"asn" ihr:"asn_id,asn,key,report"`
	Hege      float64 `json:"hege" ihr:"hege,min=0,max=1"`
	NbPeers   *int64  `json:"nb_peers,omitempty" ihr:"-,min=0"`
}

// ConeRow is the customer cone size of a network.
type ConeRow struct {
	ASN      int64 `json:"asn" ihr:"asn_id,asn,key,report"`
	ConeSize int64 `json:"conesize" ihr:"conesize,min=0,max=2147483647"`
}

// HegemonyAlarmRow is a hegemony anomaly of a dependency of an origin AS.
type HegemonyAlarmRow struct {
	OriginASN int64   `json:"originasn" ihr:"originasn_id,asn,key,report"`
	ASN       int64   `json:"asn" ihr:"asn_id,asn,key,report"`
	Deviation float64 `json:"deviation" ihr:"deviation"`
}

// CountryHegemonyRow is the dependency of a country on a network, for one
// weighting scheme.
type CountryHegemonyRow struct {
	Country      string  `json:"country" ihr:"country_id,country,required,key,report"`
	ASN          int64   `json:"asn" ihr:"asn_id,asn,key,report"`
	Hege         float64 `json:"hege" ihr:"hege,min=0,max=1"`
	Weight       float64 `json:"weight" ihr:"weight"`
	WeightScheme string  `json:"weightscheme" ihr:"weightscheme,required,len=16,key"`
	TransitOnly  bool    `json:"transitonly" ihr:"transitonly,key"`
}

// PrefixHegemonyRow is the dependency of a prefix (announced by an origin)
// on a network, with its routing status. When visibility is left out it is
// derived from nb_peers (the share of the bin's largest nb_peers, in %);
// when moas is left out, from the origins of the prefix in the bin.
type PrefixHegemonyRow struct {
	Prefix                string   `json:"prefix" ihr:"prefix,required,len=64,key"`
	OriginASN             int64    `json:"originasn" ihr:"originasn_id,asn,key,report"`
	ASN                   int64    `json:"asn" ihr:"asn_id,asn,key,report"`
	Hege                  float64  `json:"hege" ihr:"hege,min=0,max=1"`
	Country               string   `json:"country" ihr:"country_id,country,report"`
	NbPeers               *int64   `json:"nb_peers,omitempty" ihr:"-,min=0"`
	Visibility            *float64 `json:"visibility,omitempty" ihr:"visibility,min=0,max=100"`
	RPKIStatus            string   `json:"rpki_status" ihr:"rpki_status,len=32"`
	IRRStatus             string   `json:"irr_status" ihr:"irr_status,len=32"`
	DelegatedPrefixStatus string   `json:"delegated_prefix_status" ihr:"delegated_prefix_status,len=32"`
	DelegatedASNStatus    string   `json:"delegated_asn_status" ihr:"delegated_asn_status,len=32"`
	Descr                 string   `json:"descr" ihr:"descr,len=64"`
	MOAS                  *bool    `json:"moas,omitempty" ihr:"moas"`
}

// AtlasDelayRow is the delay between two Atlas locations.
type AtlasDelayRow struct {
	Startpoint Location `json:"startpoint" ihr:"startpoint_id,key,report"`
	Endpoint   Location `json:"endpoint" ihr:"endpoint_id,key,report"`
	Median     float64  `json:"median" ihr:"median"`
	NbTracks   int64    `json:"nbtracks" ihr:"nbtracks,min=0,max=2147483647"`
	NbProbes   int64    `json:"nbprobes" ihr:"nbprobes,min=0,max=2147483647"`
	Entropy    float64  `json:"entropy" ihr:"entropy"`
	Hop        int64    `json:"hop" ihr:"hop,min=-2147483648,max=2147483647"`
	NbRealRTTs int64    `json:"nbrealrtts" ihr:"nbrealrtts,min=0,max=2147483647"`
}

// AtlasDelayAlarmRow is a delay anomaly between two Atlas locations.
type AtlasDelayAlarmRow struct {
	Startpoint Location `json:"startpoint" ihr:"startpoint_id,key,report"`
	Endpoint   Location `json:"endpoint" ihr:"endpoint_id,key,report"`
	Deviation  float64  `json:"deviation" ihr:"deviation"`
}

// MagnitudeRow is the link delay or forwarding anomaly magnitude of a network.
type MagnitudeRow struct {
	ASN       int64   `json:"asn" ihr:"asn_id,asn,key,report"`
	Magnitude float64 `json:"magnitude" ihr:"magnitude"`
}

// DelayAlarmRow is a link delay anomaly.
type DelayAlarmRow struct {
	ASN        int64           `json:"asn" ihr:"asn_id,asn,report"`
	IP         string          `json:"ip" ihr:"ip,required,len=64"`
	Link       string          `json:"link" ihr:"link,required,len=128"`
	MedianRTT  float64         `json:"medianrtt" ihr:"medianrtt"`
	DiffMedian float64         `json:"diffmedian" ihr:"diffmedian"`
	Deviation  float64         `json:"deviation" ihr:"deviation"`
	NbProbes   int64           `json:"nbprobes" ihr:"nbprobes,min=0,max=2147483647"`
	MsmPrbIDs  json.RawMessage `json:"msm_prb_ids,omitempty" ihr:"msm_prb_ids"`
	// Msms are the Atlas measurements and probes behind the alarm
	// (ihr_delay_alarms_msms, listed by the read API as msmid).
	Msms []MsmProbe `json:"msms,omitempty" ihr:"-"`
}

// MsmProbe is an Atlas measurement and one of its probes.
type MsmProbe struct {
	MsmID   int64 `json:"msmid"`
	ProbeID int64 `json:"probeid"`
}

// ForwardingAlarmRow is a forwarding anomaly.
type ForwardingAlarmRow struct {
	ASN            int64           `json:"asn" ihr:"asn_id,asn,report"`
	IP             string          `json:"ip" ihr:"ip,required,len=64"`
	Correlation    float64         `json:"correlation" ihr:"correlation"`
	Responsibility float64         `json:"responsibility" ihr:"responsibility"`
	PktDiff        float64         `json:"pktdiff" ihr:"pktdiff"`
	PreviousHop    string          `json:"previoushop" ihr:"previoushop,len=64"`
	MsmPrbIDs      json.RawMessage `json:"msm_prb_ids,omitempty" ihr:"msm_prb_ids"`
	// Msms are the measurements and probes behind the alarm (ihr_forwarding_alarms_msms).
	Msms []MsmProbe `json:"msms,omitempty" ihr:"-"`
}

// MetisSelectionRow ranks a network for Atlas probe selection by a metric.
type MetisSelectionRow struct {
	Metric string  `json:"metric" ihr:"metric,part,enum=as_path_length|ip_hops|rtt"`
	Rank   int64   `json:"rank" ihr:"rank,key,min=0,max=2147483647"`
	ASN    int64   `json:"asn" ihr:"asn_id,asn,report"`
	Mean   float64 `json:"mean" ihr:"mean"`
}

// MetisDeploymentRow ranks a network as a candidate for new Atlas probes.
type MetisDeploymentRow struct {
	Metric    string  `json:"metric" ihr:"metric,part,enum=as_path_length|ip_hops|rtt"`
	Rank      int64   `json:"rank" ihr:"rank,key,min=0,max=2147483647"`
	ASN       int64   `json:"asn" ihr:"asn_id,asn,report"`
	Mean      float64 `json:"mean" ihr:"mean"`
	NbSamples int64   `json:"nbsamples" ihr:"nbsamples,min=0,max=2147483647"`
}

// TRHegemonyRow is the traceroute hegemony of a dependency of an origin.
type TRHegemonyRow struct {
	Origin     Identifier `json:"origin" ihr:"origin_id,key,report"`
	Dependency Identifier `json:"dependency" ihr:"dependency_id,key,report"`
	Hege       float64    `json:"hege" ihr:"hege,min=0,max=1"`
	NbSamples  int64      `json:"nbsamples" ihr:"nbsamples,min=0,max=2147483647"`
}

const (
	quarter  = 900
	halfHour = 1800
	hour     = 3600
	day      = 86400
	week     = 7 * day
)

func ptr[T any](v T) *T { return &v }

func loc(t, name string) Location { return Location{Type: t, Name: name, AF: 4} }

// The binned datasets.
var (
	Hegemony = dataset(Dataset{Name: "hegemony", Table: "ihr_hegemony", BinSeconds: quarter, Derives: "hegemony_cone",
		Doc: "AS hegemony: how much each origin AS (0: the global graph) depends on each network. " +
			"Committing a bin also computes its customer cones (ihr_hegemonycone).",
		Row: HegemonyRow{}, Example: HegemonyRow{OriginASN: 2497, ASN: 2914, Hege: 0.41}})
	HegemonyCone = dataset(Dataset{Name: "hegemony_cone", Table: "ihr_hegemonycone", BinSeconds: quarter,
		Doc: "Customer cone sizes, for producers that compute them; hegemony bins derive them otherwise " +
			"(the later commit of a bin wins).",
		Row: ConeRow{}, Example: ConeRow{ASN: 2914, ConeSize: 1520}})
	HegemonyAlarms = dataset(Dataset{Name: "hegemony_alarms", Table: "ihr_hegemony_alarms", BinSeconds: quarter,
		Doc: "AS hegemony anomalies.", Row: HegemonyAlarmRow{}, Example: HegemonyAlarmRow{OriginASN: 2497, ASN: 174, Deviation: 7.3}})
	HegemonyCountry = dataset(Dataset{Name: "hegemony_country", Table: "ihr_hegemony_country", BinSeconds: day,
		Doc: "Country hegemony: four rows per country and network (AS or eyeball weights, all or transit only), daily.",
		Row: CountryHegemonyRow{}, Example: CountryHegemonyRow{Country: "JP", ASN: 2497, Hege: 0.12, Weight: 0.3, WeightScheme: "eyeball", TransitOnly: true}})
	HegemonyPrefix = dataset(Dataset{Name: "hegemony_prefix", Table: "ihr_hegemony_prefix", BinSeconds: quarter,
		Doc: "Prefix hegemony and route origin validation, one bin per day (00:00 UTC).",
		Row: PrefixHegemonyRow{}, Example: PrefixHegemonyRow{Prefix: "202.232.0.0/17", OriginASN: 2497, ASN: 2497, Hege: 1,
			Country: "JP", NbPeers: ptr[int64](310), RPKIStatus: "Valid", IRRStatus: "Valid", DelegatedPrefixStatus: "assigned",
			DelegatedASNStatus: "assigned", Descr: "IIJ"}})
	AtlasDelay = dataset(Dataset{Name: "atlas_delay", Table: "ihr_atlas_delay", BinSeconds: halfHour, AF: AFStartpoint,
		Doc: "Network delay between Atlas locations (raclette), 30-minute bins.",
		Row: AtlasDelayRow{}, Example: AtlasDelayRow{Startpoint: loc("AS", "2497"), Endpoint: loc("CT", "London, England, GB"),
			Median: 212.4, NbTracks: 120, NbProbes: 14, Entropy: 0.82, Hop: 9, NbRealRTTs: 1800}})
	AtlasDelayAlarms = dataset(Dataset{Name: "atlas_delay_alarms", Table: "ihr_atlas_delay_alarms", BinSeconds: halfHour, AF: AFStartpoint,
		Doc: "Network delay anomalies.", Row: AtlasDelayAlarmRow{},
		Example: AtlasDelayAlarmRow{Startpoint: loc("AS", "2497"), Endpoint: loc("CT", "London, England, GB"), Deviation: 12.5}})
	Delay = dataset(Dataset{Name: "delay", Table: "ihr_delay", BinSeconds: hour, Offset: halfHour, AF: AFNone,
		Doc: "Link delay magnitude per network (tartiflette): hourly windows, timebin at the window's middle, no address family.",
		Row: MagnitudeRow{}, Example: MagnitudeRow{ASN: 2497, Magnitude: 3.2}})
	Forwarding = dataset(Dataset{Name: "forwarding", Table: "ihr_forwarding", BinSeconds: hour, Offset: halfHour, AF: AFNone,
		Doc: "Forwarding anomaly magnitude per network (tartiflette), as delay.",
		Row: MagnitudeRow{}, Example: MagnitudeRow{ASN: 2497, Magnitude: -0.4}})
	DelayAlarms = dataset(Dataset{Name: "delay_alarms", Table: "ihr_delay_alarms", BinSeconds: hour, Offset: halfHour, AF: AFNone,
		Doc: "Link delay alarms (tartiflette).", Row: DelayAlarmRow{},
		Example: DelayAlarmRow{ASN: 2497, IP: "202.232.0.2", Link: "202.232.0.1-202.232.0.2", MedianRTT: 12.1, DiffMedian: 5.3,
			Deviation: 9.8, NbProbes: 4, MsmPrbIDs: json.RawMessage(`{"5001":[1001,1002]}`),
			Msms: []MsmProbe{{MsmID: 5001, ProbeID: 1001}, {MsmID: 5001, ProbeID: 1002}}}})
	ForwardingAlarms = dataset(Dataset{Name: "forwarding_alarms", Table: "ihr_forwarding_alarms", BinSeconds: hour, Offset: halfHour, AF: AFNone,
		Doc: "Forwarding alarms (tartiflette).", Row: ForwardingAlarmRow{},
		Example: ForwardingAlarmRow{ASN: 2497, IP: "202.232.0.2", Correlation: -0.7, Responsibility: 0.9, PktDiff: 12, PreviousHop: "202.232.0.1",
			Msms: []MsmProbe{{MsmID: 5051, ProbeID: 1003}}}})
	MetisSelection = dataset(Dataset{Name: "metis_selection", Table: "ihr_metis_atlas_selection", BinSeconds: week, Align: day,
		Doc: "Metis Atlas probe selection: weekly ranks of networks by one metric per bin (part: the metric).",
		Row: MetisSelectionRow{}, Example: MetisSelectionRow{Metric: "rtt", Rank: 1, ASN: 2497, Mean: 31.5}})
	MetisDeployment = dataset(Dataset{Name: "metis_deployment", Table: "ihr_metis_atlas_deployment", BinSeconds: week, Align: day,
		Doc: "Metis Atlas deployment candidates: weekly ranks by one metric per bin (part: the metric).",
		Row: MetisDeploymentRow{}, Example: MetisDeploymentRow{Metric: "rtt", Rank: 1, ASN: 2497, Mean: 31.5, NbSamples: 24}})
	TRHegemony = dataset(Dataset{Name: "tr_hegemony", Table: "ihr_tr_hegemony", BinSeconds: day,
		Doc: "Traceroute hegemony (weekly and monthly aggregates, timebin already corrected by the producer).",
		Row: TRHegemonyRow{}, Example: TRHegemonyRow{Origin: Identifier{"AS", "2497"}, Dependency: Identifier{"IX", "JPIX"}, Hege: 0.2, NbSamples: 40}})
)

var registry = map[string]*Dataset{}

func dataset(d Dataset) *Dataset {
	d.declare()
	registry[d.Name] = &d
	return &d
}

// Lookup returns the binned dataset named name.
func Lookup(name string) (*Dataset, bool) {
	d, ok := registry[name]
	return d, ok
}

// Datasets returns every binned dataset, by name.
func Datasets() []*Dataset {
	out := make([]*Dataset, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
