// Package endpoint declares the legacy read endpoints (parameters, lookups,
// fields, time rules) and turns a request's query string into a validated
// Query. Declarations are the single source for parsing, SQL building and,
// later, the OpenAPI document; nothing here knows HTTP or SQL drivers.
package endpoint

// Kind is the type of a parameter value or of a response field.
type Kind int

// Value kinds.
const (
	Int Kind = iota
	Float
	Time
	String
	Bool
	// JSON is a nullable jsonb column, written compact as Python would dump it.
	JSON
	// Strings is a list of strings.
	Strings
	// Probes is the disco events' nested probe list (see legacy.go).
	Probes
)

// Op is how a parameter filters.
type Op int

// Lookups of the legacy API.
const (
	Eq        Op = iota // column = v
	Gte                 // column >= v   (name__gte)
	Lte                 // column <= v   (name__lte)
	In                  // column IN (comma list)
	InPipe              // column IN (pipe list)
	IContains           // column ILIKE %v%
	Contains            // column LIKE %v%
	Search              // networks: number or name contains v
	// LocationKey: pipe list of type(2) + af(1) + name keys, e.g. "CT4Tokyo, Tokyo, JP|AS42497";
	// Column names the joined location table's alias.
	LocationKey
	// WhenTrue: a boolean parameter that, when true, applies Column as the condition.
	WhenTrue
	// Switch: a boolean parameter that filters nothing; false turns the field of the same
	// Column name off (null), as include_probe_details does.
	Switch
)

// Param is one query parameter.
type Param struct {
	Name   string
	Column string // SQL expression; from declarations only, never from input
	Op     Op
	Kind   Kind
}

// Field is one member of a result item, in response order.
type Field struct {
	Name   string
	Column string
	Kind   Kind
}

// TimeRule is the time window every request of an endpoint must respect.
type TimeRule struct {
	Param   string // "timebin": also accepts Param__gte and Param__lte
	Column  string
	Table   string // whose latest time applies when no time is given
	MaxDays int
}

// Endpoint is one legacy endpoint.
type Endpoint struct {
	Path   string // under /ihr/api/, without slashes: "hegemony", "hegemony/alarms"
	From   string // FROM clause with its joins
	Fields []Field
	Params []Param
	Time   *TimeRule
	// OneOf lists parameters of which at least one is required; OneOfMsg is the legacy error.
	OneOf    []string
	OneOfMsg string
	// Order is the tie-break (SQL), appended to any requested ordering so
	// pages never overlap.
	Order string
	// Ordered: the legacy API orders by Order even when asked for no order
	// (cones, by time); elsewhere a single page comes in the database's order.
	Ordered bool
	// Reference: a list that changes only as networks and locations appear
	// or are renamed (networks, countries, locations), kept long by clients.
	Reference bool
}

// field returns the field named name.
func (e *Endpoint) field(name string) (Field, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Allowed lists the parameter names the endpoint accepts.
func (e *Endpoint) Allowed() []string {
	names := []string{"format", "ordering", "page"}
	for _, p := range e.Params {
		names = append(names, p.Name)
	}
	if e.Time != nil {
		names = append(names, e.Time.Param, e.Time.Param+"__gte", e.Time.Param+"__lte")
	}
	return names
}
