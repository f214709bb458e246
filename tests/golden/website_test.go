package golden

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// axiosEncode encodes as the IHR website's axios does: encodeURIComponent,
// then ':', '$', ',', '[' and ']' restored and spaces as '+'.
func axiosEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.!~*'():$,[]", c) >= 0:
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var isoTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// websiteTarget rewrites a golden request the way the website sends it:
// format=json first, times with milliseconds, axios encoding, and (as the
// 2025 builds did) no trailing slash.
func websiteTarget(t *testing.T, target string) string {
	path, rawQuery, _ := strings.Cut(target, "?")
	parts := []string{"format=json"}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		val, err := url.QueryUnescape(v)
		if err != nil {
			t.Fatal(err)
		}
		if isoTime.MatchString(val) {
			val = strings.TrimSuffix(val, "Z") + ".000Z"
		}
		parts = append(parts, k+"="+axiosEncode(val))
	}
	return strings.TrimSuffix(path, "/") + "?" + strings.Join(parts, "&")
}

// results is an answer's count and items (as a multiset: the order is the
// golden test's business), without the links, which repeat the request.
func results(t *testing.T, body string) string {
	var env struct {
		Count   int               `json:"count"`
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("%v: %.200s", err, body)
	}
	items := make([]string, len(env.Results))
	for i, r := range env.Results {
		items[i] = string(r)
	}
	slices.Sort(items)
	return fmt.Sprint(env.Count, items)
}

func TestWebsiteRequestShapes(t *testing.T) {
	gateway := stack(t)
	for _, id := range []string{"network-delay-02", "network-delay-alarms-02", "disco-events-06", "hegemony-03",
		"tr-hegemony-02", "hegemony-prefixes-02", "link-delay-01", "metis-selection-01"} {
		var target string
		for _, c := range goldenCases(t) {
			if c.id == id {
				target = c.target
			}
		}
		want, err := os.ReadFile(filepath.Join(golden(t), "responses", id+".body"))
		if err != nil {
			t.Fatal(err)
		}
		site := websiteTarget(t, target)
		code, body := get(t, gateway+site)
		if code != 200 {
			t.Errorf("%s as the website sends it (%s): %d %.300s", id, site, code, body)
			continue
		}
		if got, w := results(t, body), results(t, string(want)); got != w {
			t.Errorf("%s as the website sends it (%s):\n got  %.400s\n want %.400s", id, site, got, w)
		}
	}
}

func TestGatewayCompressesLargeAnswers(t *testing.T) {
	gateway := stack(t)
	req, _ := http.NewRequest("GET", gateway+"/ihr/api/networks/?ordering=number", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "br" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if resp2.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip not used: %v", resp2.Header)
	}
}
