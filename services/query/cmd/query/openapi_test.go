package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

func TestOpenAPIDocument(t *testing.T) {
	svc := testkit.StartService(t, "query", service.Runner(spec()), testkit.ServiceEnv(t, testkit.NewDB(t)))
	code, body := testkit.Get(t, svc.URL+"/ihr/api/openapi.json")
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	if code, legacy := testkit.Get(t, svc.URL+"/ihr/api/swagger.json"); code != 200 || legacy != body {
		t.Errorf("swagger.json must serve the same document (%d)", code)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %s, want 3.1", doc.OpenAPI)
	}
	for _, e := range endpoint.All() {
		item := doc.Paths.Find("/ihr/api/" + e.Path + "/")
		if item == nil || item.Get == nil {
			t.Errorf("%s is not documented", e.Path)
			continue
		}
		documented := map[string]bool{}
		for _, p := range item.Get.Parameters {
			documented[p.Value.Name] = true
		}
		for _, name := range e.Allowed() {
			if !documented[name] {
				t.Errorf("%s: parameter %s is not documented", e.Path, name)
			}
		}
		var raw map[string]any
		_ = json.Unmarshal([]byte(body), &raw)
		results := raw["paths"].(map[string]any)["/ihr/api/"+e.Path+"/"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)["results"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
		for _, f := range e.Fields {
			if _, ok := results[f.Name]; !ok {
				t.Errorf("%s: field %s is not in the response schema", e.Path, f.Name)
			}
		}
	}
	// Every guarded route, with the permission it needs.
	for _, r := range authn.Routes {
		item := doc.Paths.Find(r.Path())
		var op *openapi3.Operation
		if item != nil {
			op = item.GetOperation(r.Method())
		}
		if op == nil {
			t.Errorf("%s is not documented", r.Pattern)
			continue
		}
		if got := op.Extensions["x-permission"]; got != string(r.Permission) {
			t.Errorf("%s: x-permission %v, want %s", r.Pattern, got, r.Permission)
		}
		if secured := op.Security != nil && len(*op.Security) > 0; secured != (r.Permission != authn.Public) {
			t.Errorf("%s: security %v for permission %s", r.Pattern, op.Security, r.Permission)
		}
	}
}
