package store

import (
	"math"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
)

func TestPackRoundTrip(t *testing.T) {
	in := []events.HegemonyRow{{OriginASN: 0, ASN: 4294967295, Hege: 1e-05}, {OriginASN: 2497, ASN: 3356, Hege: math.Nextafter(0.5, 1)}}
	out, err := unpackHegemony(packHegemony(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("got %+v, want %+v", out, in)
	}
	if _, err := unpackHegemony(make([]byte, 25), nil); err == nil {
		t.Fatal("a truncated batch was accepted")
	}
}
