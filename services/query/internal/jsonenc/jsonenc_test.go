package jsonenc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFloatLikePythonRepr(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.5, "0.5"}, {0.1, "0.1"}, {1e-05, "1e-05"}, {2.5e-07, "2.5e-07"},
		{123456789, "123456789.0"}, {0.0001, "0.0001"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
		{9999999999999998, "9999999999999998.0"}, {-0.25, "-0.25"}, {0.7103227270908912, "0.7103227270908912"},
		{-26.441455293801447, "-26.441455293801447"}, {1e100, "1e+100"}, {math.Copysign(0, -1), "-0.0"},
		{12.5, "12.5"}, {5e-324, "5e-324"},
	} {
		if got := string(Float(nil, tc.in)); got != tc.want {
			t.Errorf("Float(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestTime(t *testing.T) {
	loc := time.FixedZone("JST", 9*3600)
	if got := string(Time(nil, time.Date(2024, 5, 1, 9, 15, 0, 0, loc))); got != `"2024-05-01T00:15:00Z"` {
		t.Errorf("got %s", got)
	}
	if got := string(Time(nil, time.Date(2024, 5, 1, 0, 0, 1, 250000000, time.UTC))); got != `"2024-05-01T00:00:01.250000Z"` {
		t.Errorf("got %s", got)
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"Förderung":      `"Förderung"`,
		`say "hi" \ <b>`: `"say \"hi\" \\ <b>"`,
		"tab\there\n":    `"tab\there\n"`,
		"\x01":           `"\u0001"`,
		"Île-de-France":  `"Île-de-France"`,
		"bad \xff byte":  `"bad \ufffd byte"`,
	} {
		if got := string(String(nil, in)); got != want {
			t.Errorf("String(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestQuotePlus(t *testing.T) {
	if got := QuotePlus("2024-05-01T00:00:00Z"); got != "2024-05-01T00%3A00%3A00Z" {
		t.Errorf("got %s", got)
	}
	if got := QuotePlus("CT4New York City, New York, US|AS4174"); got != "CT4New+York+City%2C+New+York%2C+US%7CAS4174" {
		t.Errorf("got %s", got)
	}
	if got := QuotePlus("Förde"); got != "F%C3%B6rde" {
		t.Errorf("got %s", got)
	}
}

// reference is the straightforward layout of Python's repr: the shortest
// digits in 'e' form decide the notation, strconv's 'f' writes the fixed one.
func reference(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		m := e[:strings.IndexByte(e, 'e')]
		sign, n := "+", exp
		if exp < 0 {
			sign, n = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", m, sign, n)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func TestFloatMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if got, want := string(Float(nil, f)), reference(f); got != want {
			t.Fatalf("Float(%v) = %s, want %s", f, got, want)
		}
		g := r.Float64() * math.Pow(10, float64(r.IntN(40)-20))
		if got, want := string(Float(nil, g)), reference(g); got != want {
			t.Fatalf("Float(%v) = %s, want %s", g, got, want)
		}
	}
}
