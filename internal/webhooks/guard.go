package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Guard decides which endpoints the platform may call: a webhook URL is chosen
// by a subscriber, so without it the platform could be made to call its own
// private network (server-side request forgery).
type Guard struct {
	// Allow lists address ranges that are refused by default but allowed here
	// (an operator's decision; tests allow loopback).
	Allow []netip.Prefix
	// InsecureHTTP allows http:// endpoints (tests and loopback demos); default
	// HTTPS only.
	InsecureHTTP bool
	// Timeout bounds each call, connection to last byte. Default 10 s.
	Timeout time.Duration
}

// blocked are the ranges refused unless allowed: loopback, private, shared
// address space, link-local (cloud metadata at 169.254.169.254 included),
// unspecified, multicast, IPv4-mapped and documentation addresses.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
		"192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Permitted reports whether the platform may connect to addr.
func (g Guard) Permitted(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, p := range g.Allow {
		if p.Contains(addr) {
			return nil
		}
	}
	for _, p := range blocked {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s is in %s (loopback, private, link-local or reserved); an operator may allow-list it", ErrForbiddenAddress, addr, p)
		}
	}
	return nil
}

// CheckURL checks an endpoint URL before it is stored: scheme, no credentials,
// a host; a literal address must be permitted. Names are checked again at every
// call, on the addresses they resolve to then.
func (g Guard) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q is not a URL", ErrInvalid, raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.InsecureHTTP:
	default:
		return nil, fmt.Errorf("%w: endpoint %q must use https", ErrInvalid, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: endpoint %q carries credentials; use the signing secret instead", ErrInvalid, u.Redacted())
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: endpoint %q has no host", ErrInvalid, raw)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: endpoint %q has a fragment", ErrInvalid, raw)
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := g.Permitted(a); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Client returns an HTTP client that connects only to permitted addresses (the
// check runs on the address actually dialled, after name resolution, so a name
// that resolves to a private address is refused too), never follows a redirect,
// ignores proxies from the environment, and gives up after Timeout.
func (g Guard) Client() *http.Client {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: dialling %q", ErrForbiddenAddress, address)
		}
		return g.Permitted(a)
	}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// isForbidden reports whether err is a refusal of the guard (wrapped by the
// HTTP client's own errors).
func isForbidden(err error) bool {
	return errors.Is(err, ErrForbiddenAddress)
}
