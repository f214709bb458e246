package limits

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses of the proxies in front of the gateway (load
// balancers, CDNs) trusted to name the client in X-Forwarded-For.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDRs or single addresses
// (IHR_TRUSTED_PROXIES); "" trusts none.
func ParseProxies(s string) (Proxies, error) {
	var ps Proxies
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (ps Proxies) trust(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the key of r's client: its address, or for IPv6 its /64
// (one subscriber's network: a client rotating through its addresses is
// still one client). The address is the TCP peer's, unless the peer is a
// trusted proxy: then the right-most X-Forwarded-For address that is not
// one (each proxy appends the address it got the request from, and only
// the entries the trusted proxies appended can be believed); the
// left-most when every one is trusted; the peer's when an entry is not an
// address.
func (ps Proxies) Client(r *http.Request) string {
	host := peerHost(r.RemoteAddr)
	if len(ps) == 0 && !strings.Contains(host, ":") {
		return host // IPv4, the common case: no parsing, no allocation
	}
	a, text := ps.client(r)
	if !a.IsValid() {
		return text
	}
	return key(a, text)
}

// Address returns the address of r's client as Client finds it, whole
// (an IPv6 address, not its /64): for the services' logs and audit.
func (ps Proxies) Address(r *http.Request) string {
	a, text := ps.client(r)
	if !a.IsValid() {
		return text
	}
	return a.String()
}

// client finds r's client: its address and the text it was read from
// (no address when the peer is not from a TCP listener: the text then).
func (ps Proxies) client(r *http.Request) (netip.Addr, string) {
	host := peerHost(r.RemoteAddr)
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host // not from a TCP listener (tests, other transports)
	}
	peer = peer.Unmap()
	if !ps.trust(peer) {
		return peer, host
	}
	lines := r.Header["X-Forwarded-For"]
	var leftmost netip.Addr
	var leftText string
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var part string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				part, line = line[j+1:], line[:j]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, ok := parseForwarded(part)
			if !ok {
				return peer, host
			}
			if !ps.trust(a) {
				return a, part
			}
			leftmost, leftText = a, part
		}
	}
	if leftmost.IsValid() {
		return leftmost, leftText
	}
	return peer, host
}

// ClientHeader is the header in which the gateway tells the service behind
// it the address of the client (Proxies.Address). The proxy sets
// X-Forwarded-For to its own peer only, a load balancer behind one.
const ClientHeader = "X-Real-Ip"

// TellClient sets ClientHeader on every request to next, whatever the
// client sent in it.
func (ps Proxies) TellClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(ClientHeader, ps.Address(r))
		next.ServeHTTP(w, r)
	})
}

// peerHost is the host of a RemoteAddr "host:port" ("[v6]:port").
func peerHost(remote string) string {
	i := strings.LastIndexByte(remote, ':')
	if i < 0 {
		return remote
	}
	return strings.TrimSuffix(strings.TrimPrefix(remote[:i], "["), "]")
}

// parseForwarded reads an X-Forwarded-For entry: an address, perhaps with
// a port ("203.0.113.9:4711", "[2001:db8::1]:4711") as some proxies write.
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// key is the client key of a, whose text is s: s itself for a plain IPv4
// address (no allocation), else the canonical form; an IPv6 client's /64.
func key(a netip.Addr, s string) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	if !strings.Contains(s, ":") {
		return s // netip reads only the canonical dotted form of IPv4
	}
	return a.String()
}
