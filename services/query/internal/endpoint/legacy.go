package endpoint

// The endpoints of the legacy API (../shared/docs/legacy-api.md, part B).
// Field order is the legacy response order; Column expressions and FROM
// clauses come from here only.

// All returns every endpoint served.
func All() []*Endpoint {
	return []*Endpoint{
		Networks(), Countries(),
		Hegemony(), HegemonyAlarms(), HegemonyCones(), HegemonyCountries(), HegemonyPrefixes(),
		NetworkDelay(), NetworkDelayAlarms(), NetworkDelayLocations(),
		DiscoEvents(), MetisSelection(), MetisDeployment(), TRHegemony(),
		LinkMagnitude("link/delay", "ihr_delay"), LinkMagnitude("link/forwarding", "ihr_forwarding"),
		LinkDelayAlarms(), LinkForwardingAlarms(),
	}
}

// timebin is the time rule of the time-series endpoints.
func timebin(column, table string, maxDays int) *TimeRule {
	return &TimeRule{Param: "timebin", Column: column, Table: table, MaxDays: maxDays}
}

// ranges declares name, name__gte and name__lte on column.
func ranges(name, column string, kind Kind, exact bool) []Param {
	ps := []Param{{name + "__gte", column, Gte, kind}, {name + "__lte", column, Lte, kind}}
	if exact {
		ps = append([]Param{{name, column, Eq, kind}}, ps...)
	}
	return ps
}

func params(groups ...[]Param) []Param {
	var all []Param
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// Networks lists autonomous systems and IXPs (table ihr_asn).
func Networks() *Endpoint {
	return &Endpoint{
		Path: "networks",
		From: "ihr_asn n",
		Fields: []Field{
			{"number", "n.number", Int},
			{"name", "n.name", String},
			{"hegemony", "n.ashash", Bool},
			{"delay_forwarding", "n.tartiflette", Bool},
			{"disco", "n.disco", Bool},
		},
		Params: params([]Param{
			{"name", "n.name", IContains, String},
			{"number", "n.number", In, Int},
			{"search", "n", Search, String},
		}, ranges("number", "n.number", Int, false)),
		Order:     "n.number",
		Reference: true,
	}
}

// Countries lists countries and regions.
func Countries() *Endpoint {
	return &Endpoint{
		Path:      "countries",
		From:      "ihr_country c",
		Fields:    []Field{{"code", "c.code", String}, {"name", "c.name", String}},
		Params:    []Param{{"code", "c.code", Eq, String}, {"name", "c.name", IContains, String}},
		Order:     "c.code",
		Reference: true,
	}
}

// hegemonyLike are the fields of hegemony and its alarms: value is hege or deviation.
func hegemonyLike(alias, value string) []Field {
	return []Field{
		{"timebin", alias + ".timebin", Time},
		{"originasn", alias + ".originasn_id", Int},
		{"asn", alias + ".asn_id", Int},
		{value, alias + "." + value, Float},
		{"af", alias + ".af", Int},
		{"asn_name", "a.name", String},
		{"originasn_name", "o.name", String},
	}
}

// Hegemony is AS hegemony, with both networks' names.
func Hegemony() *Endpoint {
	return &Endpoint{
		Path:   "hegemony",
		From:   "ihr_hegemony h JOIN ihr_asn a ON a.number = h.asn_id JOIN ihr_asn o ON o.number = h.originasn_id",
		Fields: hegemonyLike("h", "hege"),
		Params: params([]Param{
			{"asn", "h.asn_id", In, Int},
			{"originasn", "h.originasn_id", In, Int},
			{"af", "h.af", Eq, Int},
		}, ranges("hege", "h.hege", Float, true)),
		Time:     timebin("h.timebin", "ihr_hegemony", 7),
		OneOf:    []string{"originasn", "asn"},
		OneOfMsg: "Required parameter missing. Please provide one of the following parameters: ['originasn', 'asn']",
		Order:    "h.timebin, h.id",
	}
}

// HegemonyAlarms are the hegemony anomalies.
func HegemonyAlarms() *Endpoint {
	return &Endpoint{
		Path:   "hegemony/alarms",
		From:   "ihr_hegemony_alarms x JOIN ihr_asn a ON a.number = x.asn_id JOIN ihr_asn o ON o.number = x.originasn_id",
		Fields: hegemonyLike("x", "deviation"),
		Params: params([]Param{
			{"asn", "x.asn_id", In, Int},
			{"originasn", "x.originasn_id", In, Int},
			{"af", "x.af", Eq, Int},
		}, ranges("deviation", "x.deviation", Float, false)),
		Time:  timebin("x.timebin", "ihr_hegemony_alarms", 7),
		Order: "x.timebin, x.id",
	}
}

// HegemonyCones are the customer cone sizes; ordered by time by default.
func HegemonyCones() *Endpoint {
	return &Endpoint{
		Path: "hegemony/cones",
		From: "ihr_hegemonycone c",
		Fields: []Field{
			{"timebin", "c.timebin", Time},
			{"asn", "c.asn_id", Int},
			{"conesize", "c.conesize", Int},
			{"af", "c.af", Int},
		},
		Params:  []Param{{"asn", "c.asn_id", In, Int}, {"af", "c.af", Eq, Int}},
		Time:    timebin("c.timebin", "ihr_hegemonycone", 7),
		Order:   "c.timebin, c.id",
		Ordered: true,
	}
}

// HegemonyCountries is country hegemony.
func HegemonyCountries() *Endpoint {
	return &Endpoint{
		Path: "hegemony/countries",
		From: "ihr_hegemony_country x JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: []Field{
			{"timebin", "x.timebin", Time},
			{"country", "x.country_id", String},
			{"asn", "x.asn_id", Int},
			{"hege", "x.hege", Float},
			{"af", "x.af", Int},
			{"asn_name", "a.name", String},
			{"weight", "x.weight", Float},
			{"weightscheme", "x.weightscheme", String},
			{"transitonly", "x.transitonly", Bool},
		},
		Params: params([]Param{
			{"asn", "x.asn_id", In, Int},
			{"country", "x.country_id", In, String},
			{"af", "x.af", Eq, Int},
			{"weightscheme", "x.weightscheme", Eq, String},
			{"transitonly", "x.transitonly", Eq, Bool},
		}, ranges("hege", "x.hege", Float, true)),
		Time:     timebin("x.timebin", "ihr_hegemony_country", 31),
		OneOf:    []string{"country", "asn"},
		OneOfMsg: "Required parameter missing. Please provide one of the following parameters: ['country', 'asn']",
		Order:    "x.timebin, x.id",
	}
}

// HegemonyPrefixes is prefix hegemony with routing status (ROV).
func HegemonyPrefixes() *Endpoint {
	return &Endpoint{
		Path: "hegemony/prefixes",
		From: "ihr_hegemony_prefix x JOIN ihr_asn o ON o.number = x.originasn_id JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: []Field{
			{"timebin", "x.timebin", Time},
			{"prefix", "x.prefix", String},
			{"originasn", "x.originasn_id", Int},
			{"country", "x.country_id", String},
			{"asn", "x.asn_id", Int},
			{"hege", "x.hege", Float},
			{"af", "x.af", Int},
			{"visibility", "x.visibility", Float},
			{"rpki_status", "x.rpki_status", String},
			{"irr_status", "x.irr_status", String},
			{"delegated_prefix_status", "x.delegated_prefix_status", String},
			{"delegated_asn_status", "x.delegated_asn_status", String},
			{"descr", "x.descr", String},
			{"moas", "x.moas", Bool},
			{"originasn_name", "o.name", String},
			{"asn_name", "a.name", String},
		},
		Params: params([]Param{
			{"prefix", "x.prefix", In, String},
			{"originasn", "x.originasn_id", In, Int},
			{"asn", "x.asn_id", In, Int},
			{"country", "x.country_id", In, String},
			{"rpki_status", "x.rpki_status", Contains, String},
			{"irr_status", "x.irr_status", Contains, String},
			{"delegated_prefix_status", "x.delegated_prefix_status", Contains, String},
			{"delegated_asn_status", "x.delegated_asn_status", Contains, String},
			{"af", "x.af", Eq, Int},
			{"origin_only", "x.originasn_id = x.asn_id", WhenTrue, Bool},
		}, ranges("hege", "x.hege", Float, true)),
		Time:     timebin("x.timebin", "ihr_hegemony_prefix", 3),
		OneOf:    []string{"prefix", "originasn", "country", "rpki_status", "irr_status", "delegated_prefix_status", "delegated_asn_status"},
		OneOfMsg: "Required parameter missing. Please provide one of the following parameter: ['prefix', 'originasn', 'country', 'rpki_status', 'irr_status', 'delegated_prefix_status', 'delegated_asn_status']",
		Order:    "x.timebin, x.id",
	}
}

// endpoints are the start and end locations of network delay.
func endpointFields() []Field {
	return []Field{
		{"startpoint_type", "s.type", String},
		{"startpoint_name", "s.name", String},
		{"startpoint_af", "s.af", Int},
		{"endpoint_type", "e.type", String},
		{"endpoint_name", "e.name", String},
		{"endpoint_af", "e.af", Int},
	}
}

func endpointParams() []Param {
	var ps []Param
	for _, side := range []struct{ name, alias string }{{"startpoint", "s"}, {"endpoint", "e"}} {
		ps = append(ps,
			Param{side.name + "_name", side.alias + ".name", InPipe, String},
			Param{side.name + "_type", side.alias + ".type", Eq, String},
			Param{side.name + "_af", side.alias + ".af", Eq, Int},
			Param{side.name + "_key", side.alias, LocationKey, String},
		)
	}
	return ps
}

const delayJoins = " JOIN ihr_atlas_location s ON s.id = x.startpoint_id JOIN ihr_atlas_location e ON e.id = x.endpoint_id"

// NetworkDelay is the delay between RIPE Atlas locations.
func NetworkDelay() *Endpoint {
	return &Endpoint{
		Path: "network_delay",
		From: "ihr_atlas_delay x" + delayJoins,
		Fields: append(append([]Field{{"timebin", "x.timebin", Time}}, endpointFields()...),
			Field{"median", "x.median", Float}, Field{"nbtracks", "x.nbtracks", Int}, Field{"nbprobes", "x.nbprobes", Int},
			Field{"entropy", "x.entropy", Float}, Field{"hop", "x.hop", Int}, Field{"nbrealrtts", "x.nbrealrtts", Int}),
		Params: params(endpointParams(), ranges("median", "x.median", Float, true)),
		Time:   timebin("x.timebin", "ihr_atlas_delay", 7),
		Order:  "x.timebin, x.id",
	}
}

// NetworkDelayAlarms are the network delay anomalies.
func NetworkDelayAlarms() *Endpoint {
	return &Endpoint{
		Path:   "network_delay/alarms",
		From:   "ihr_atlas_delay_alarms x" + delayJoins,
		Fields: append(append([]Field{{"timebin", "x.timebin", Time}}, endpointFields()...), Field{"deviation", "x.deviation", Float}),
		Params: params(endpointParams(), ranges("deviation", "x.deviation", Float, false)),
		Time:   timebin("x.timebin", "ihr_atlas_delay_alarms", 7),
		Order:  "x.timebin, x.id",
	}
}

// NetworkDelayLocations lists the Atlas locations.
func NetworkDelayLocations() *Endpoint {
	return &Endpoint{
		Path:      "network_delay/locations",
		From:      "ihr_atlas_location l",
		Fields:    []Field{{"type", "l.type", String}, {"name", "l.name", String}, {"af", "l.af", Int}},
		Params:    []Param{{"name", "l.name", IContains, String}, {"type", "l.type", Eq, String}, {"af", "l.af", Eq, Int}},
		Order:     "l.id",
		Reference: true,
	}
}

// discoProbes is each event's probes, in probe id order, as rows of
// [probe_id, ipv4, prefixv4, event, starttime, endtime, level, lat, lon].
const discoProbes = `(SELECT coalesce(json_agg(json_build_array(p.probe_id, p.ipv4, p.prefixv4, p.event_id,
	p.starttime, p.endtime, p.level::text, p.lat::text, p.lon::text) ORDER BY p.id), '[]')::text
	FROM ihr_disco_probes p WHERE p.event_id = x.id)`

// DiscoEvents are the outages seen by disco, with their probes embedded
// unless include_probe_details=false.
func DiscoEvents() *Endpoint {
	times := []string{"starttime", "starttime__gte", "starttime__lte", "endtime", "endtime__gte", "endtime__lte"}
	return &Endpoint{
		Path: "disco/events",
		From: "ihr_disco_events x",
		Fields: []Field{
			{"id", "x.id", Int},
			{"streamtype", "x.streamtype", String},
			{"streamname", "x.streamname", String},
			{"starttime", "x.starttime", Time},
			{"endtime", "x.endtime", Time},
			{"avglevel", "x.avglevel", Float},
			{"nbdiscoprobes", "x.nbdiscoprobes", Int},
			{"totalprobes", "x.totalprobes", Int},
			{"ongoing", "x.ongoing", Bool},
			{"discoprobes", discoProbes, Probes},
		},
		Params: params([]Param{
			{"streamname", "x.streamname", Eq, String},
			{"streamtype", "x.streamtype", Eq, String},
			{"ongoing", "x.ongoing", Eq, Bool},
			{"include_probe_details", "discoprobes", Switch, Bool},
		}, ranges("starttime", "x.starttime", Time, true), ranges("endtime", "x.endtime", Time, true),
			ranges("avglevel", "x.avglevel", Float, true), ranges("nbdiscoprobes", "x.nbdiscoprobes", Int, true),
			ranges("totalprobes", "x.totalprobes", Int, true)),
		OneOf:    times,
		OneOfMsg: "At least one time parameter is required: starttime, starttime__gte, starttime__lte, endtime, endtime__gte, or endtime__lte.",
		Order:    "x.id",
	}
}

func metis(path, table string, deployment bool) *Endpoint {
	fields := []Field{
		{"timebin", "x.timebin", Time},
		{"metric", "x.metric", String},
		{"rank", "x.rank", Int},
		{"asn", "x.asn_id", Int},
		{"af", "x.af", Int},
	}
	if deployment {
		fields = append(fields, Field{"nbsamples", "x.nbsamples", Int})
	}
	return &Endpoint{
		Path:   path,
		From:   table + " x JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: append(fields, Field{"asn_name", "a.name", String}),
		Params: params(ranges("rank", "x.rank", Int, true), []Param{{"metric", "x.metric", Eq, String}, {"af", "x.af", Eq, Int}}),
		Time:   timebin("x.timebin", table, 31),
		Order:  "x.timebin, x.id",
	}
}

// MetisSelection ranks networks for RIPE Atlas probe selection.
func MetisSelection() *Endpoint {
	return metis("metis/atlas/selection", "ihr_metis_atlas_selection", false)
}

// MetisDeployment ranks networks where new Atlas probes would help most.
func MetisDeployment() *Endpoint {
	return metis("metis/atlas/deployment", "ihr_metis_atlas_deployment", true)
}

// TRHegemony is hegemony computed from traceroutes.
func TRHegemony() *Endpoint {
	return &Endpoint{
		Path: "tr_hegemony",
		From: "ihr_tr_hegemony x JOIN ihr_tr_hegemony_identifier o ON o.id = x.origin_id JOIN ihr_tr_hegemony_identifier d ON d.id = x.dependency_id",
		Fields: []Field{
			{"timebin", "x.timebin", Time},
			{"origin_type", "o.type", String},
			{"origin_name", "o.name", String},
			{"origin_af", "o.af", Int},
			{"dependency_type", "d.type", String},
			{"dependency_name", "d.name", String},
			{"dependency_af", "d.af", Int},
			{"hege", "x.hege", Float},
			{"af", "x.af", Int},
			{"nbsamples", "x.nbsamples", Int},
		},
		Params: params([]Param{
			{"origin_name", "o.name", InPipe, String},
			{"dependency_name", "d.name", InPipe, String},
			{"origin_type", "o.type", Eq, String},
			{"dependency_type", "d.type", Eq, String},
			{"origin_af", "o.af", Eq, Int},
			{"dependency_af", "d.af", Eq, Int},
			{"af", "x.af", Eq, Int},
		}, ranges("hege", "x.hege", Float, true)),
		Time:  timebin("x.timebin", "ihr_tr_hegemony", 31),
		Order: "x.timebin, x.id",
	}
}

// LinkMagnitude is link delay or forwarding magnitude per network (Django only).
func LinkMagnitude(path, table string) *Endpoint {
	return &Endpoint{
		Path: path,
		From: table + " x JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: []Field{
			{"asn", "x.asn_id", Int},
			{"timebin", "x.timebin", Time},
			{"magnitude", "x.magnitude", Float},
			{"asn_name", "a.name", String},
		},
		Params: []Param{{"asn", "x.asn_id", In, Int}, {"magnitude", "x.magnitude", Eq, Float}},
		Time:   timebin("x.timebin", table, 7),
		Order:  "x.timebin, x.id",
	}
}

// msmids lists an alarm's measurements as "<msmid> <probeid>".
func msmids(table string) Field {
	return Field{"msmid", "ARRAY(SELECT m.msmid || ' ' || m.probeid FROM " + table + " m WHERE m.alarm_id = x.id ORDER BY m.id)", Strings}
}

// LinkDelayAlarms are link delay anomalies (Django only).
func LinkDelayAlarms() *Endpoint {
	return &Endpoint{
		Path: "link/delay/alarms",
		From: "ihr_delay_alarms x JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: []Field{
			{"asn", "x.asn_id", Int},
			{"asn_name", "a.name", String},
			{"timebin", "x.timebin", Time},
			{"link", "x.link", String},
			{"medianrtt", "x.medianrtt", Float},
			{"diffmedian", "x.diffmedian", Float},
			{"deviation", "x.deviation", Float},
			{"nbprobes", "x.nbprobes", Int},
			{"msm_prb_ids", "x.msm_prb_ids::text", JSON},
			msmids("ihr_delay_alarms_msms"),
		},
		Params: params([]Param{
			{"asn", "x.asn_id", In, Int},
			{"link", "x.link", Eq, String},
			{"link__contains", "x.link", Contains, String},
		}, ranges("deviation", "x.deviation", Float, true), ranges("diffmedian", "x.diffmedian", Float, true),
			ranges("medianrtt", "x.medianrtt", Float, true), ranges("nbprobes", "x.nbprobes", Int, true)),
		Time:  timebin("x.timebin", "ihr_delay_alarms", 7),
		Order: "x.timebin, x.id",
	}
}

// LinkForwardingAlarms are forwarding anomalies (Django only).
func LinkForwardingAlarms() *Endpoint {
	return &Endpoint{
		Path: "link/forwarding/alarms",
		From: "ihr_forwarding_alarms x JOIN ihr_asn a ON a.number = x.asn_id",
		Fields: []Field{
			{"asn", "x.asn_id", Int},
			{"asn_name", "a.name", String},
			{"timebin", "x.timebin", Time},
			{"ip", "x.ip", String},
			{"correlation", "x.correlation", Float},
			{"pktdiff", "x.pktdiff", Float},
			{"previoushop", "x.previoushop", String},
			{"responsibility", "x.responsibility", Float},
			{"msm_prb_ids", "x.msm_prb_ids::text", JSON},
			msmids("ihr_forwarding_alarms_msms"),
		},
		Params: params([]Param{
			{"asn", "x.asn_id", In, Int},
			{"ip", "x.ip", Eq, String},
			{"ip__contains", "x.ip", Contains, String},
			{"previoushop", "x.previoushop", Eq, String},
			{"previoushop__contains", "x.previoushop", Contains, String},
		}, ranges("correlation", "x.correlation", Float, true), ranges("responsibility", "x.responsibility", Float, true)),
		Time:  timebin("x.timebin", "ihr_forwarding_alarms", 7),
		Order: "x.timebin, x.id",
	}
}
