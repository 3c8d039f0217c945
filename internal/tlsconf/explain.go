package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/flumego/flume/internal/refusal"
)

// HandshakeError is a client's failed TLS handshake with a server, or the refusal the server
// sent right after it, explained: Hint says in the operator's terms what to look at.
type HandshakeError struct {
	ServerName string // the role name the server was verified against
	Addr       string // the server's address
	Err        error  // what crypto/tls or x509 returned
	Hint       string // what is probably wrong; "" when unknown
}

// Error returns "tls handshake with ROLE at ADDR: ERR (HINT)".
func (e *HandshakeError) Error() string {
	s := fmt.Sprintf("tls handshake with %s at %s: %v", e.ServerName, e.Addr, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns Err, so that errors.As finds the x509 and crypto/tls errors.
func (e *HandshakeError) Unwrap() error { return e.Err }

// explainClient wraps a client's handshake error in a HandshakeError.
func explainClient(err error, serverName, addr string) error {
	return &HandshakeError{ServerName: serverName, Addr: addr, Err: err, Hint: clientHint(err, serverName)}
}

// clientHint says what a client's handshake error probably means.
func clientHint(err error, serverName string) string {
	var (
		record   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &record):
		return "the server does not speak TLS: is TLS turned on there, with flume.tls.ca, flume.tls.cert and flume.tls.key?"
	case errors.As(err, &unknown):
		return "does flume.tls.ca hold the CA that signed its certificate?"
	case errors.As(err, &hostname):
		return fmt.Sprintf("its certificate lacks the role %s: is that address really a %s?", serverName, roleNoun(serverName))
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "its certificate is outside its validity dates: renew it, or check the clocks of both hosts"
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return "its certificate is not for server authentication: issue it with flumed tls init or flumed tls cert"
	case errors.Is(err, context.DeadlineExceeded):
		return "the server did not finish the handshake in time"
	}
	alert, ok := remoteAlert(err)
	if !ok {
		return ""
	}
	switch alert {
	case alertCertificateRequired:
		return "the server requires a client certificate: set flume.tls.cert and flume.tls.key"
	case alertUnknownCA:
		return "the server does not trust the CA that signed flume.tls.cert: do both sides use the same flume.tls.ca?"
	case alertCertificateExpired:
		return "the server finds flume.tls.cert outside its validity dates: renew it, or check the clocks of both hosts"
	case alertBadCertificate:
		return "the server refused flume.tls.cert, or wanted one that was not sent: does it carry a role the port admits, " +
			"and does the server's flume.tls.ca hold the CA that signed it?"
	case alertHandshakeFailure:
		return "the server may require a client certificate that was not sent, or share no TLS version or cipher suite"
	case alertProtocolVersion:
		return "the server does not speak TLS 1.2 or later"
	}
	return "the server ended the handshake"
}

// roleNoun names the holder of a role name.
func roleNoun(serverName string) string {
	switch serverName {
	case MasterName:
		return "master"
	case NodeName:
		return "node"
	case ClientName:
		return "admin client"
	}
	return serverName
}

// refuse reports a server's failed handshake to l, once per peer address and quiet period.
func refuse(l *refusal.Log, addr net.Addr, err error) {
	peerAddr := addr.String()
	host, _, splitErr := net.SplitHostPort(peerAddr)
	if splitErr != nil {
		host = peerAddr
	}
	l.Refuse("tls "+host, "tls handshake refused: "+serverReason(err), "peer", peerAddr, "err", err)
}

// serverReason says why a server's handshake failed, from the server's side.
func serverReason(err error) string {
	var (
		record  tls.RecordHeaderError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &record):
		return "the client does not speak TLS (a plaintext client?)"
	case errors.Is(err, ErrNoClientCert):
		return "the client sent no certificate"
	case errors.Is(err, ErrWrongRole):
		return "the client certificate has the wrong role"
	case errors.As(err, &unknown):
		return "the client certificate is not signed by flume.tls.ca"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the client certificate is expired or not yet valid"
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return "the client certificate is not for client authentication"
	case errors.As(err, &invalid):
		return "the client certificate is invalid"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "the client did not finish the handshake in time"
	}
	if alert, ok := remoteAlert(err); ok {
		return "the client refused our certificate (" + alert.Error() + ")"
	}
	return "the handshake failed"
}

// TLS alerts that a refusal sends (RFC 8446 section 6).
const (
	alertHandshakeFailure    tls.AlertError = 40
	alertBadCertificate      tls.AlertError = 42
	alertCertificateExpired  tls.AlertError = 45
	alertUnknownCA           tls.AlertError = 48
	alertProtocolVersion     tls.AlertError = 70
	alertCertificateRequired tls.AlertError = 116
)

// remoteAlert returns the alert the peer sent, if err is one; ok with a zero alert when it is
// one of the others. crypto/tls reports an alert received over TCP as a *net.OpError with Op
// "remote error" around an unexported alert type whose text is tls.AlertError's, so the alert
// is recognized by that text; over QUIC it is a tls.AlertError.
func remoteAlert(err error) (alert tls.AlertError, ok bool) {
	if errors.As(err, &alert) {
		return alert, true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	for _, a := range []tls.AlertError{alertHandshakeFailure, alertBadCertificate, alertCertificateExpired,
		alertUnknownCA, alertProtocolVersion, alertCertificateRequired} {
		if op.Err.Error() == a.Error() {
			return a, true
		}
	}
	return 0, true
}
