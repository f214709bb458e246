package endpoint

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestKeyParsesToItself: over every request of the legacy corpus, a query's
// key is a request that parses to a query with the same key.
func TestKeyParsesToItself(t *testing.T) {
	f, err := os.Open("../../../../../shared/reference/golden/requests.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		_, target, _ := strings.Cut(sc.Text(), "\t")
		q, err := ParseKey(All(), strings.TrimPrefix(target, "/ihr/api/"))
		if err != nil {
			continue // the corpus's invalid requests
		}
		again, err := ParseKey(All(), q.Key())
		if err != nil {
			t.Errorf("%s: key %s does not parse: %v", target, q.Key(), err)
			continue
		}
		if again.Key() != q.Key() || again.Latest != q.Latest || len(again.Filters) != len(q.Filters) {
			t.Errorf("%s: key %s parses to key %s", target, q.Key(), again.Key())
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d valid requests in the corpus", n)
	}
}

// TestKeyOfEquivalentRequests: requests that ask for the same answer share
// a key; requests that do not, do not.
func TestKeyOfEquivalentRequests(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"hegemony/?originasn=2497,174&af=4&timebin=2026-11-25", "hegemony?af=4&originasn=174,2497,,174&timebin=2026-11-25T00:00:00.000Z&format=json&page=1", true},
		{"hegemony/?originasn=2497&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z",
			"hegemony/?timebin__lte=2026-11-26T09:00:00%2B09:00&originasn=02497&timebin__gte=2026-11-25", true},
		{"hegemony/?originasn=2497&timebin=2026-11-25T00:00:00Z&timebin__gte=2026-11-20T00:00:00Z&timebin__lte=2026-11-21T00:00:00Z",
			"hegemony/?originasn=2497&timebin=2026-11-25T00:00:00Z", true}, // an exact time replaces the range
		{"disco/events/?streamname=&starttime__gte=2026-11-25", "disco/events/?starttime__gte=2026-11-25T00:00:00Z", true},
		{"network_delay/?endpoint_key=CT4Tokyo,%20Tokyo,%20JP%7CAS42497", "network_delay/?endpoint_key=AS42497%7CCT4Tokyo,%20Tokyo,%20JP%7C", true},
		{"network_delay/?endpoint_key=CTxTokyo", "network_delay/?endpoint_key=CT_Tokyo", true}, // no af: the condition is dropped
		{"hegemony/?originasn=2497&ordering=timebin,-asn", "hegemony/?originasn=2497&ordering=-asn,timebin", false},
		{"hegemony/?originasn=2497", "hegemony/?originasn=2497&page=2", false},
		{"hegemony/?originasn=2497", "hegemony/?originasn=2497&format=csv", false},
		{"hegemony/?originasn=2497", "hegemony/alarms/?originasn=2497", false},
		{"disco/events/?starttime__gte=2026-11-25", "disco/events/?starttime__gte=2026-11-25&include_probe_details=false", false},
		{"networks/?name=IIJ", "networks/?name=iij", false},
	} {
		qa, err := ParseKey(All(), c.a)
		if err != nil {
			t.Fatalf("%s: %v", c.a, err)
		}
		qb, err := ParseKey(All(), c.b)
		if err != nil {
			t.Fatalf("%s: %v", c.b, err)
		}
		if (qa.Key() == qb.Key()) != c.same {
			t.Errorf("%s → %s\n%s → %s\nwant same key: %v", c.a, qa.Key(), c.b, qb.Key(), c.same)
		}
	}
}
