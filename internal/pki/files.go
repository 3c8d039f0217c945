package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flumego/flume/internal/atomicfile"
)

// writer writes certificates and keys into dir and remembers what it wrote.
type writer struct {
	dir     string
	written []string
}

// issue signs l with ca and writes it.
func (w *writer) issue(ca *authority, l leaf, now time.Time, days int) error {
	der, key, err := ca.sign(l, now, days)
	if err != nil {
		return err
	}
	return w.pair(l.file, der, key)
}

// pair writes NAME.pem (0644) and NAME-key.pem (0600), the key first so that a certificate
// never sits beside a key it does not match.
func (w *writer) pair(name string, certDER []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key of %s: %w", name, err)
	}
	keyPath := filepath.Join(w.dir, name+"-key.pem")
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	w.written = append(w.written, keyPath)
	certPath := filepath.Join(w.dir, name+".pem")
	if err := writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644); err != nil {
		return err
	}
	w.written = append(w.written, certPath)
	return nil
}

// sync makes the renames durable.
func (w *writer) sync() error { return atomicfile.SyncDir(w.dir) }

// writeFile replaces path with data, mode perm: it writes a new temporary file (created 0600,
// so a key is never readable by others, even for a moment), syncs it, sets perm, and renames
// it over path.
func writeFile(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// readCA reads the CA of dir and checks that it is a CA and that its key is its own.
func readCA(dir string) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("%w in %s (make one with flumed tls init): %w", ErrNoCA, dir, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%w in %s: %w", ErrNoCA, dir, err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w in %s: %s holds no CERTIFICATE PEM block", ErrNoCA, dir, certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w in %s: %s: %w", ErrNoCA, dir, certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w in %s: %s is not a CA certificate", ErrNoCA, dir, certPath)
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w in %s: %s holds no PRIVATE KEY PEM block", ErrNoCA, dir, keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w in %s: %s: %w", ErrNoCA, dir, keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w in %s: %s is not the key of %s", ErrNoCA, dir, keyPath, certPath)
	}
	return &authority{cert: cert, certDER: cert.Raw, key: key}, nil
}
