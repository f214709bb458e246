package endpoint

// The endpoints of the legacy API (docs: ../shared/docs/legacy-api.md, part B).

// All returns every endpoint served.
func All() []*Endpoint { return []*Endpoint{Networks(), Hegemony()} }

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
		Params: []Param{
			{"name", "n.name", IContains, String},
			{"number", "n.number", In, Int},
			{"number__gte", "n.number", Gte, Int},
			{"number__lte", "n.number", Lte, Int},
			{"search", "n", Search, String},
		},
		Order: "n.number",
	}
}

// Hegemony is AS hegemony, with both networks' names.
func Hegemony() *Endpoint {
	return &Endpoint{
		Path: "hegemony",
		From: "ihr_hegemony h JOIN ihr_asn a ON a.number = h.asn_id JOIN ihr_asn o ON o.number = h.originasn_id",
		Fields: []Field{
			{"timebin", "h.timebin", Time},
			{"originasn", "h.originasn_id", Int},
			{"asn", "h.asn_id", Int},
			{"hege", "h.hege", Float},
			{"af", "h.af", Int},
			{"asn_name", "a.name", String},
			{"originasn_name", "o.name", String},
		},
		Params: []Param{
			{"asn", "h.asn_id", In, Int},
			{"originasn", "h.originasn_id", In, Int},
			{"af", "h.af", Eq, Int},
			{"hege", "h.hege", Eq, Float},
			{"hege__gte", "h.hege", Gte, Float},
			{"hege__lte", "h.hege", Lte, Float},
		},
		Time:     &TimeRule{Param: "timebin", Column: "h.timebin", Table: "ihr_hegemony", MaxDays: 7},
		OneOf:    []string{"originasn", "asn"},
		OneOfMsg: "Required parameter missing. Please provide one of the following parameters: ['originasn', 'asn']",
		Order:    "h.timebin, h.id",
	}
}
