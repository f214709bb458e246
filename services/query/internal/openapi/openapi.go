// Package openapi builds the OpenAPI 3.1 document of the read API from the
// same endpoint declarations that drive parsing and SQL, so the document
// cannot drift from what the service accepts and returns.
package openapi

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

// Document returns the OpenAPI document as JSON.
func Document(endpoints []*endpoint.Endpoint, version string, pageSize int) ([]byte, error) {
	paths := map[string]any{}
	for _, e := range endpoints {
		paths["/ihr/api/"+e.Path+"/"] = map[string]any{"get": operation(e, pageSize)}
	}
	for _, r := range authn.Routes {
		ops, _ := paths[r.Path()].(map[string]any)
		if ops == nil {
			ops = map[string]any{}
			paths[r.Path()] = ops
		}
		ops[strings.ToLower(r.Method())] = guarded(r)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "IHR API",
			"version": version,
			"description": "Internet Health Report data: AS hegemony, network delay, forwarding anomalies, network " +
				"disconnections, Atlas probe selection and traceroute hegemony. Every endpoint also answers without its " +
				"trailing slash. Lists of values: comma-separated for numbers and codes, '|'-separated for names and location keys.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{"schemas": map[string]any{
			"RuleError":     object(map[string]any{"detail": map[string]any{"type": "string"}}, "detail"),
			"UnknownParams": object(map[string]any{"error": map[string]any{"const": "invalid_query_params"}, "unexpected": stringList(), "allowed": stringList()}, "error", "unexpected", "allowed"),
			"ValidationError": object(map[string]any{"detail": map[string]any{"type": "array", "items": object(map[string]any{
				"type": map[string]any{"type": "string"}, "loc": stringList(), "msg": map[string]any{"type": "string"}, "input": map[string]any{"type": "string"},
			}, "type", "loc", "msg")}}, "detail"),
			"Error": object(map[string]any{"error": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}, "error", "message"),
		},
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "An access token (a JWT from /ihr/api/users/login or the token endpoint) or an API key (ihr_<id>_<secret>)."}}},
	}
	return json.Marshal(doc)
}

// guarded documents a route of the permission table: what it needs
// (x-permission, and the bearer scheme unless public) and its errors.
func guarded(r authn.Route) map[string]any {
	path, tag := r.Path(), "auth"
	switch {
	case strings.HasPrefix(path, "/ihr/api/users"):
		tag = "users"
	case strings.HasPrefix(path, "/ihr/api/ingest/"):
		tag = "ingest"
	}
	op := map[string]any{
		"operationId":  strings.NewReplacer("/ihr/api/", "", "/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(strings.ToLower(r.Method()) + "_" + path),
		"summary":      r.Summary,
		"tags":         []string{tag},
		"x-permission": string(r.Permission),
		"responses": map[string]any{
			"2XX": map[string]any{"description": "Done.", "content": jsonContent(map[string]any{"type": "object"})},
			"400": map[string]any{"description": "The body or a parameter is not valid.", "content": jsonContent(ref("Error"))},
			"429": map[string]any{"description": "Too many requests (Retry-After says when to try again).", "content": jsonContent(ref("Error"))},
		},
	}
	if r.Permission != authn.Public {
		op["security"] = []any{map[string]any{"bearer": []string{}}}
		op["description"] = "Needs the " + string(r.Permission) + " permission (docs/security.md)."
		responses := op["responses"].(map[string]any)
		responses["401"] = map[string]any{"description": "No credentials, or refused ones.", "content": jsonContent(ref("Error"))}
		responses["403"] = map[string]any{"description": "The credentials' role lacks the permission.", "content": jsonContent(ref("Error"))}
	}
	var params []any
	for _, name := range []string{"id", "dataset"} {
		if strings.Contains(path, "{"+name+"}") {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	if params != nil {
		op["parameters"] = params
	}
	switch r.Method() {
	case "POST", "PUT", "PATCH":
		ctype := "application/json"
		if strings.HasPrefix(path, "/ihr/api/auth/") && (strings.HasSuffix(path, "/token") || strings.HasSuffix(path, "/revoke") || strings.HasSuffix(path, "/introspect")) {
			ctype = "application/x-www-form-urlencoded"
		}
		op["requestBody"] = map[string]any{"content": map[string]any{ctype: map[string]any{"schema": map[string]any{"type": "object"}}}}
	}
	return op
}

func object(props map[string]any, required ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": required}
}

func stringList() map[string]any {
	return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func operation(e *endpoint.Endpoint, pageSize int) map[string]any {
	var params []any
	for _, p := range e.Params {
		params = append(params, parameter(p.Name, p.Kind, p.Op, describe(p)))
	}
	if t := e.Time; t != nil {
		desc := "Exact time bin. Without any time parameter, the rows at the table's latest time bin are returned."
		params = append(params,
			parameter(t.Param, endpoint.Time, endpoint.Eq, desc),
			parameter(t.Param+"__gte", endpoint.Time, endpoint.Gte, "Start of the time range (with "+t.Param+"__lte); at most "+itoa(t.MaxDays)+" days long."),
			parameter(t.Param+"__lte", endpoint.Time, endpoint.Lte, "End of the time range (with "+t.Param+"__gte)."))
	}
	fields := make([]string, 0, len(e.Fields))
	props := map[string]any{}
	for _, f := range e.Fields {
		fields = append(fields, f.Name)
		props[f.Name] = fieldSchema(f.Kind)
	}
	sort.Strings(fields)
	params = append(params,
		map[string]any{"name": "ordering", "in": "query", "schema": map[string]any{"type": "string"},
			"description": "Comma-separated fields to order by, '-' for descending. Fields: " + strings.Join(fields, ", ") + "."},
		map[string]any{"name": "page", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": endpoint.MaxPage, "default": 1},
			"description": "Page number; a page holds " + itoa(pageSize) + " results."},
		map[string]any{"name": "format", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"json"}}},
	)
	summary := "List " + strings.ReplaceAll(e.Path, "/", " ")
	if len(e.OneOf) > 0 {
		summary += " (needs one of: " + strings.Join(e.OneOf, ", ") + ")"
	}
	nullableURL := map[string]any{"type": []string{"string", "null"}, "format": "uri"}
	return map[string]any{
		"operationId": strings.NewReplacer("/", "_").Replace(e.Path),
		"summary":     summary,
		"tags":        []string{strings.SplitN(e.Path, "/", 2)[0]},
		"parameters":  params,
		"responses": map[string]any{
			"200": map[string]any{"description": "One page of results.", "content": jsonContent(object(map[string]any{
				"count":    map[string]any{"type": "integer"},
				"next":     nullableURL,
				"previous": nullableURL,
				"results":  map[string]any{"type": "array", "items": object(props, fieldNames(e)...)},
			}, "count", "next", "previous", "results"))},
			"400": map[string]any{"description": "Unknown parameters, or a rule broken (time range, required filter).",
				"content": jsonContent(map[string]any{"oneOf": []any{ref("UnknownParams"), ref("RuleError"), ref("Error")}})},
			"422": map[string]any{"description": "A value does not parse.", "content": jsonContent(ref("ValidationError"))},
			"504": map[string]any{"description": "The query took too long.", "content": jsonContent(ref("Error"))},
		},
	}
}

func fieldNames(e *endpoint.Endpoint) []string {
	names := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		names[i] = f.Name
	}
	return names
}

func parameter(name string, kind endpoint.Kind, op endpoint.Op, desc string) map[string]any {
	schema := valueSchema(kind)
	switch op {
	case endpoint.In, endpoint.InPipe, endpoint.LocationKey:
		schema = map[string]any{"type": "string"}
	}
	return map[string]any{"name": name, "in": "query", "schema": schema, "description": desc}
}

func valueSchema(k endpoint.Kind) map[string]any {
	switch k {
	case endpoint.Int:
		return map[string]any{"type": "integer"}
	case endpoint.Float:
		return map[string]any{"type": "number"}
	case endpoint.Time:
		return map[string]any{"type": "string", "format": "date-time"}
	case endpoint.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{"type": "string"}
}

func fieldSchema(k endpoint.Kind) map[string]any {
	switch k {
	case endpoint.JSON:
		return map[string]any{"type": []string{"object", "null"}, "description": "Atlas measurement id → probe ids"}
	case endpoint.Strings:
		return stringList()
	case endpoint.Probes:
		return map[string]any{"type": []string{"array", "null"}, "items": object(map[string]any{
			"probe_id": valueSchema(endpoint.Int), "ipv4": valueSchema(endpoint.String), "prefixv4": valueSchema(endpoint.String),
			"event": valueSchema(endpoint.Int), "starttime": valueSchema(endpoint.Time), "endtime": valueSchema(endpoint.Time),
			"level": valueSchema(endpoint.Float), "lat": valueSchema(endpoint.Float), "lon": valueSchema(endpoint.Float),
		})}
	}
	return valueSchema(k)
}

// describe says what a parameter does, from its lookup.
func describe(p endpoint.Param) string {
	switch p.Op {
	case endpoint.Gte:
		return "At least this value."
	case endpoint.Lte:
		return "At most this value."
	case endpoint.In:
		return "One value or a comma-separated list."
	case endpoint.InPipe:
		return "One name or a '|'-separated list."
	case endpoint.IContains:
		return "Contains this text (case-insensitive)."
	case endpoint.Contains:
		return "Contains this text."
	case endpoint.Search:
		return "Number or name contains this text ('AS' or 'IX' before a number is ignored)."
	case endpoint.LocationKey:
		return "'|'-separated location keys: type (2 letters), address family (digit), name; e.g. CT4Tokyo, Tokyo, JP|AS42497."
	case endpoint.WhenTrue:
		return "When true, only rows where the origin is the network itself."
	case endpoint.Switch:
		return "false leaves the nested list out (null)."
	}
	return "Exactly this value."
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
