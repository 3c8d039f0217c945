package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc/credentials"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/state"
)

// security is what a daemon's properties say of TLS and access control (docs/security.md).
type security struct {
	// tls is the daemon's certificate material; nil when flume.tls.* are not set.
	tls        *tlsconf.Provider
	clientAuth tlsconf.ClientAuth
	// acl is flume.acl.enabled.
	acl bool
	// token is the secret of flume.acl.token.file: what a node presents to the masters.
	token string
	// bootstrap is the secret of flume.acl.bootstrap.token.file, on a master.
	bootstrap string
	// insecure is --insecure: listening off loopback without TLS is allowed, with a warning.
	insecure bool
}

// loadSecurity reads the security properties and the files they name. Every error names the
// property and where it was set.
func loadSecurity(p *conf.Config, insecure bool) (*security, error) {
	s := &security{acl: p.Bool(conf.ACLEnabled), insecure: insecure}
	var errs []error
	propErr := func(name string, err error) {
		errs = append(errs, &conf.Error{Origin: p.Origin(name), Name: name, Msg: err.Error()})
	}
	files := tlsconf.Files{CA: p.String(conf.TLSCA), Cert: p.String(conf.TLSCert), Key: p.String(conf.TLSKey)}
	if err := files.Check(); err != nil {
		errs = append(errs, err)
	} else if files.Set() {
		prov, err := tlsconf.Load(files)
		if err != nil {
			errs = append(errs, fmt.Errorf("TLS (%s, %s, %s): %w", conf.TLSCA, conf.TLSCert, conf.TLSKey, err))
		}
		s.tls = prov
	}
	auth, err := tlsconf.ParseClientAuth(p.String(conf.TLSClientAuth))
	if err != nil {
		propErr(conf.TLSClientAuth, err)
	}
	s.clientAuth = auth
	for _, f := range []struct {
		name string
		dst  *string
	}{{conf.ACLTokenFile, &s.token}, {conf.ACLBootstrapToken, &s.bootstrap}} {
		if path := p.String(f.name); path != "" {
			secret, err := readSecret(path)
			if err != nil {
				propErr(f.name, err)
			}
			*f.dst = secret
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// readSecret reads a token's secret from a file: its first line, which must be a strong secret.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	secret, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if err := state.CheckSecret(strings.TrimSpace(secret)); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return strings.TrimSpace(secret), nil
}

// masterCreds returns the credentials a client of the masters uses: TLS verifying the master
// role, or nil for plaintext.
func (s *security) masterCreds() credentials.TransportCredentials {
	if s.tls == nil {
		return nil
	}
	return s.tls.ClientCredentials(tlsconf.MasterName)
}

// masterClient returns a client of the masters at addrs with this daemon's TLS and token.
func (s *security) masterClient(addrs []string, opts client.Options) (*client.Client, error) {
	opts.Addrs, opts.Credentials, opts.Token = addrs, s.masterCreds(), s.token
	return client.New(opts)
}

// checkListen refuses to listen on addr (host:port, or a bare host) off loopback without TLS,
// unless --insecure was given; what names the listener and property its bind address.
func (s *security) checkListen(what, property, addr string) error {
	if s.tls != nil {
		return nil
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if isLoopback(host) {
		return nil
	}
	if s.insecure {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("refusing to serve %s on %s without TLS: anyone who reaches it could run commands on your nodes. "+
		"Set flume.tls.ca, flume.tls.cert and flume.tls.key (`flumed tls init` makes them; see docs/security.md), "+
		"bind loopback with %s, or give --insecure to run unprotected", what, shown, property)
}

// warnInsecure logs, on every start, what runs unprotected.
func (s *security) warnInsecure(log *slog.Logger, listeners []string) {
	if s.tls != nil {
		return
	}
	var open []string
	for _, l := range listeners {
		host, _, err := net.SplitHostPort(l)
		if err != nil || !isLoopback(host) {
			open = append(open, l)
		}
	}
	if len(open) > 0 {
		log.Warn("RUNNING INSECURE (--insecure): listening without TLS off loopback; anyone who reaches these ports can read the traffic and, without access control, change the cluster",
			"listeners", strings.Join(open, ","), "acl", s.acl)
	} else if s.acl {
		log.Warn("access control is on without TLS: tokens cross the network in plaintext")
	}
}

// isLoopback reports whether host names loopback only: a loopback IP, or a name that resolves
// to loopback addresses only. An empty host, 0.0.0.0 and :: are every interface.
func isLoopback(host string) bool {
	if host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// watch reloads the certificates when their files change and on SIGHUP, until the returned
// function is called. SIGHUP is taken in any case, so that a reload signal never kills the
// daemon.
func (s *security) watch(log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stopWatch := func() {}
	if s.tls != nil {
		stopWatch = s.tls.Watch(log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if s.tls == nil {
					log.Info("SIGHUP: no certificates to reload (TLS is off)")
					continue
				}
				if err := s.tls.Reload(); err != nil {
					log.Error("SIGHUP: certificates not reloaded; keeping the previous ones", "err", err)
					continue
				}
				log.Info("SIGHUP: certificates reloaded", "not_after", s.tls.Leaf().NotAfter)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
		stopWatch()
	}
}
