package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/flumego/flume/internal/refusal"
)

// remote is an alert received from the peer as crypto/tls reports it over TCP: a
// *net.OpError around an unexported type with the alert's text.
func remote(a tls.AlertError) error {
	return &net.OpError{Op: "remote error", Err: errors.New(a.Error())}
}

func TestClientHintsNameWhatToLookAt(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{remote(alertCertificateRequired), "the server requires a client certificate: set flume.tls.cert and flume.tls.key"},
		{remote(alertHandshakeFailure), "may require a client certificate"},
		{remote(alertCertificateExpired), "the server finds flume.tls.cert outside its validity dates"},
		{remote(alertUnknownCA), "does not trust the CA that signed flume.tls.cert"},
		{remote(alertBadCertificate), "the server refused flume.tls.cert"},
		{remote(alertProtocolVersion), "TLS 1.2 or later"},
		{remote(tls.AlertError(80)), "the server ended the handshake"},
		{alertCertificateRequired, "requires a client certificate"}, // as QUIC reports it
		{fmt.Errorf("handshake: %w", context.DeadlineExceeded), "did not finish the handshake in time"},
		{errors.New("something else"), ""},
	}
	for _, tt := range tests {
		if got := clientHint(tt.err, MasterName); !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("clientHint(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	err := explainClient(remote(alertCertificateRequired), MasterName, "10.0.0.1:35873")
	want := "tls handshake with master.flume at 10.0.0.1:35873: remote error: tls: certificate required " +
		"(the server requires a client certificate: set flume.tls.cert and flume.tls.key)"
	var he *HandshakeError
	if err.Error() != want || !errors.As(err, &he) || he.Addr != "10.0.0.1:35873" {
		t.Fatalf("explainClient = %v, want %s", err, want)
	}
}

func TestServerReasons(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{remote(alertBadCertificate), "the client refused our certificate (tls: bad certificate)"},
		{fmt.Errorf("x: %w", ErrWrongRole), "wrong role"},
		{ErrNoClientCert, "sent no certificate"},
		{errors.New("odd"), "the handshake failed"},
	}
	for _, tt := range tests {
		if got := serverReason(tt.err); got != tt.want && !strings.Contains(got, tt.want) {
			t.Errorf("serverReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRefuseKeysByPeerIPWithoutPort(t *testing.T) {
	l := refusal.New(nil, 0)
	for port := range 3 {
		refuse(l, &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 4000 + port}, ErrNoClientCert)
	}
	if got := l.Suppressed("tls 10.0.0.9"); got != 2 {
		t.Fatalf("suppressed %d refusals of 10.0.0.9 from 3 ports, want 2", got)
	}
}
