package spine

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"go.opentelemetry.io/otel/propagation"
)

// reads: for each dataset, the legacy endpoint that serves it (with its
// time range added) and what its example must look like there.
var reads = map[string]struct{ query, want string }{
	"hegemony": {"hegemony/?originasn=2497&af=4", `"originasn":2497,"asn":2914,"hege":0.41,"af":4,"asn_name":"NTT-LTD-2914","originasn_name":"IIJ Internet Initiative Japan Inc."`},
	// The hegemony bin of the same time derives cones too: whichever commits last wins.
	"hegemony_cone":      {"hegemony/cones/?asn=2914&af=4", `"asn":2914,"conesize":`},
	"hegemony_alarms":    {"hegemony/alarms/?originasn=2497", `"originasn":2497,"asn":174,"deviation":7.3,"af":4`},
	"hegemony_country":   {"hegemony/countries/?country=JP", `"country":"JP","asn":2497,"hege":0.12,"af":4,"asn_name":"IIJ Internet Initiative Japan Inc.","weight":0.3,"weightscheme":"eyeball","transitonly":true`},
	"hegemony_prefix":    {"hegemony/prefixes/?prefix=202.232.0.0/17", `"prefix":"202.232.0.0/17","originasn":2497,"country":"JP","asn":2497`},
	"atlas_delay":        {"network_delay/?startpoint_name=2497&endpoint_name=London,%20England,%20GB", `"startpoint_type":"AS","startpoint_name":"2497","startpoint_af":4,"endpoint_type":"CT","endpoint_name":"London, England, GB","endpoint_af":4,"median":212.4`},
	"atlas_delay_alarms": {"network_delay/alarms/?startpoint_name=2497", `"endpoint_name":"London, England, GB","endpoint_af":4,"deviation":12.5`},
	"delay":              {"link/delay/?asn=2497", `"asn":2497,"timebin":"2026-12-04T00:30:00Z","magnitude":3.2,"asn_name":"IIJ Internet Initiative Japan Inc."`},
	"forwarding":         {"link/forwarding/?asn=2497", `"magnitude":-0.4`},
	"delay_alarms":       {"link/delay/alarms/?asn=2497", `"msmid":["5001 1001","5001 1002"]`},
	"forwarding_alarms":  {"link/forwarding/alarms/?asn=2497", `"msmid":["5051 1003"]`},
	"metis_selection":    {"metis/atlas/selection/?metric=rtt", `"metric":"rtt","rank":1,"asn":2497`},
	"metis_deployment":   {"metis/atlas/deployment/?metric=rtt", `"nbsamples":24`},
	"tr_hegemony":        {"tr_hegemony/?origin_name=2497", `"origin_type":"AS","origin_name":"2497","origin_af":4,"dependency_type":"IX","dependency_name":"JPIX"`},
}

// TestEveryDatasetBothWays publishes every dataset's example bin and a names
// update, and reads each back through the gateway from its legacy endpoint.
func TestEveryDatasetBothWays(t *testing.T) {
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	query := testkit.StartBinary(t, "query", env)
	testkit.StartBinary(t, "ingestion", env)
	gateway := testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": query,
		"IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t), "IHR_AUTH_URL": "http://" + testkit.FreeAddr(t)}))
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false, "spine", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "spine-test"}}
	ctx := context.Background()
	if _, err := pub.Names(ctx, events.NamesUpdate{Networks: []events.NetworkName{
		{Number: 2497, Name: "IIJ Internet Initiative Japan Inc."}, {Number: 2914, Name: "NTT-LTD-2914"}}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range events.Datasets() {
		rows := reflect.Append(reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, 1), reflect.ValueOf(d.Example))
		if _, err := pub.Bin(ctx, d.ExampleBin(), rows.Interface()); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range events.Datasets() {
		t.Run(d.Name, func(t *testing.T) {
			r, ok := reads[d.Name]
			if !ok {
				t.Fatalf("no read declared for %s", d.Name)
			}
			tb := d.ExampleBin().Timebin.Format(time.RFC3339)
			url := gateway + "/ihr/api/" + r.query + "&timebin__gte=" + tb + "&timebin__lte=" + tb
			var body string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				var code int
				code, body = testkit.Get(t, url)
				if code == 200 && strings.HasPrefix(body, `{"count":1,`) && strings.Contains(body, r.want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s\nwant it to hold %s", url, body, r.want)
				}
			}
		})
	}
}
