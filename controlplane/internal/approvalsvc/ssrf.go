package approvalsvc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
)

// errNonPublicAddress refuses a webhook connection to an address inside the
// operator's network.
var errNonPublicAddress = errors.New("approvalsvc: webhook address is not public")

// sharedAddressSpace is RFC 6598 carrier-grade NAT space, not covered by
// netip.Addr.IsPrivate.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// webhookClient is the default client for webhook deliveries. The address
// check runs in the dialer's Control hook, on the IP actually dialled after
// DNS resolution, so a hostname that resolves (or re-resolves) to an internal
// address is refused too.
func webhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: defaultHTTPTimeout}
	if !allowPrivate {
		dialer.Control = refuseNonPublic
	}
	transport := &http.Transport{
		Proxy:               nil, // a proxy would dial on our behalf, past the check
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: defaultHTTPTimeout,
		MaxIdleConns:        16,
		IdleConnTimeout:     defaultHTTPTimeout,
	}
	return &http.Client{
		Timeout:       defaultHTTPTimeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", errNonPublicAddress, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNonPublicAddress, ap.Addr())
	}
	return nil
}

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedAddressSpace.Contains(a)
}
