package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"
)

// Files names the three PEM files of a daemon: the CA bundle it trusts, its certificate (the
// leaf first, then any intermediates) and the private key of that certificate. They come from
// flume.tls.ca, flume.tls.cert and flume.tls.key.
type Files struct{ CA, Cert, Key string }

// Set reports whether all three files are given, which is what turns TLS on.
func (f Files) Set() bool { return f.CA != "" && f.Cert != "" && f.Key != "" }

// Check returns nil when all three files are given or none is, and an error wrapping
// ErrIncomplete that names the missing properties otherwise.
func (f Files) Check() error {
	var missing []string
	for _, p := range []struct{ name, file string }{{"flume.tls.ca", f.CA}, {"flume.tls.cert", f.Cert}, {"flume.tls.key", f.Key}} {
		if p.file == "" {
			missing = append(missing, p.name)
		}
	}
	if len(missing) == 0 || len(missing) == 3 {
		return nil
	}
	verb := "is"
	if len(missing) > 1 {
		verb = "are"
	}
	return fmt.Errorf("%s %s not set: %w", strings.Join(missing, " and "), verb, ErrIncomplete)
}

// material is one consistent load of the files, never modified once built: handshakes read
// the current one through an atomic pointer while Reload builds the next.
type material struct {
	cert  *tls.Certificate // chain and key, Leaf set; nil for a client without a certificate
	roots *x509.CertPool
	sum   [sha256.Size]byte // of every certificate's DER, to tell a reload that changed nothing
}

// readMaterial reads and checks f as of now: PEM of the right kind in each file, a key that
// matches the leaf, a leaf valid at now and signed by the CA bundle. With caOnly a CA alone is
// enough, and the material has no certificate.
func readMaterial(f Files, now time.Time, caOnly bool) (*material, error) {
	withoutCert := caOnly && f.CA != "" && f.Cert == "" && f.Key == ""
	if !f.Set() && !withoutCert {
		if err := f.Check(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no CA, certificate and key files given: %w", ErrIncomplete)
	}
	sum := sha256.New()
	cas, err := readCerts(f.CA, "CA bundle")
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
		sum.Write(c.Raw)
	}
	if withoutCert {
		m := &material{roots: roots}
		sum.Sum(m.sum[:0])
		return m, nil
	}
	chain, err := readCerts(f.Cert, "certificate")
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	for _, c := range chain {
		sum.Write(c.Raw)
	}
	key, err := readKey(f.Key)
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("key %q: %w %q", f.Key, ErrKeyMismatch, f.Cert)
	}
	if err := checkDates(f.Cert, leaf, now); err != nil {
		return nil, err
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, fmt.Errorf("certificate %q %w %q: %w", f.Cert, ErrUntrusted, f.CA, err)
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	m := &material{cert: &tls.Certificate{Certificate: der, PrivateKey: key, Leaf: leaf}, roots: roots}
	sum.Sum(m.sum[:0])
	return m, nil
}

// readCerts returns the certificates of the PEM file path, at least one; what names the file
// in errors.
func readCerts(path, what string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var certs []*x509.Certificate
	var others []string
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			others = append(others, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %q: certificate %d: %w", what, path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		found := "no PEM at all"
		if len(others) > 0 {
			found = "only " + strings.Join(others, ", ")
		}
		return nil, fmt.Errorf("%s %q: %w CERTIFICATE (found %s)", what, path, ErrNoPEM, found)
	}
	return certs, nil
}

// readKey returns the first private key of the PEM file path.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var others []string
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			others = append(others, block.Type)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key %q: unsupported key type %T", path, key)
		}
		return signer, nil
	}
	found := "no PEM at all"
	if len(others) > 0 {
		found = "only " + strings.Join(others, ", ")
	}
	return nil, fmt.Errorf("key %q: %w PRIVATE KEY (found %s)", path, ErrNoPEM, found)
}

// publicKeyMatches reports whether the certificate's public key is the key pair's.
func publicKeyMatches(certKey, pub crypto.PublicKey) bool {
	switch k := certKey.(type) {
	case *ecdsa.PublicKey:
		return k.Equal(pub)
	case *rsa.PublicKey:
		return k.Equal(pub)
	case ed25519.PublicKey:
		return k.Equal(pub)
	}
	return false
}

// checkDates refuses a leaf that is not valid at now, giving its dates.
func checkDates(path string, leaf *x509.Certificate, now time.Time) error {
	const layout = time.RFC3339
	switch {
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("certificate %q: %w: valid from %s, now is %s", path, ErrNotYetValid,
			leaf.NotBefore.UTC().Format(layout), now.UTC().Format(layout))
	case now.After(leaf.NotAfter):
		return fmt.Errorf("certificate %q: %w on %s (valid from %s), now is %s", path, ErrExpired,
			leaf.NotAfter.UTC().Format(layout), leaf.NotBefore.UTC().Format(layout), now.UTC().Format(layout))
	}
	return nil
}

// sameMaterial reports whether a and b hold the same certificates.
func sameMaterial(a, b *material) bool {
	return a != nil && b != nil && bytes.Equal(a.sum[:], b.sum[:])
}
