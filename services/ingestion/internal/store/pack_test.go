package store

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
)

func TestPackRoundTrip(t *testing.T) {
	peers := int64(0)
	in := []events.HegemonyRow{{OriginASN: 0, ASN: 4294967295, Hege: 1e-05}, {OriginASN: 2497, ASN: 3356, Hege: math.Nextafter(0.5, 1), NbPeers: &peers}}
	b, err := pack(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := unpack(events.Hegemony, b, reflect.ValueOf([]events.HegemonyRow(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Interface(), in) {
		t.Fatalf("got %+v, want %+v", out.Interface(), in)
	}
	if _, err := unpack(events.Hegemony, b[:len(b)-3], out); err == nil {
		t.Fatal("a truncated batch was accepted")
	}
	alarms := []events.DelayAlarmRow{{ASN: 1, IP: "a", MsmPrbIDs: json.RawMessage(`{"1":[2]}`)}, {ASN: 2, IP: "b"}}
	b, _ = pack(alarms)
	got, err := unpack(events.DelayAlarms, b, reflect.ValueOf([]events.DelayAlarmRow(nil)))
	if err != nil || !reflect.DeepEqual(got.Interface(), alarms) {
		t.Fatalf("alarms: %v %+v", err, got)
	}
}
