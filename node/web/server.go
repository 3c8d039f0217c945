// Package web serves a physical node's status over HTTP, as classic Flume's node web server did
// on flume.node.status.port: an HTML status page at /, /healthz for probes, /metrics in the
// Prometheus text exposition format and /metrics.json in the Flume NG monitoring layout.
//
// Every page is rendered from what node.Node reports at the time of the request (Statuses,
// Versions, Metrics); the server keeps no state of its own.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flumego/flume/internal/refusal"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/event"
)

// Properties named in errors, so an operator knows what to change.
const (
	// PortProperty is the property that sets the node status port.
	PortProperty = "flume.node.status.port"
	// AutoFindPortProperty is the property that lets the server try the next ports.
	AutoFindPortProperty = "flume.node.http.autofindport"
)

// maxPortTries bounds the ports tried when AutoFindPort is set: the configured one and the
// next 99.
const maxPortTries = 100

// Errors returned by Start.
var (
	// ErrNoNode is returned when Config.Node is nil.
	ErrNoNode = errors.New("web: config without a node")
	// ErrPortInUse is returned (wrapped, with the address) when the status port is taken and
	// no other port may or could be used.
	ErrPortInUse = errors.New("address already in use")
)

// Config configures the status server.
type Config struct {
	// Addr is the host:port to listen on; port 0 takes any free port.
	Addr string
	// AutoFindPort, when the port is taken, tries the next ports (up to 100 in all), as
	// classic flume.node.http.autofindport did.
	AutoFindPort bool
	// Node is the physical node whose status is served.
	Node *node.Node
	// Name is the physical node's name shown on the status page; the host name when empty.
	// It should match node.Config.Name.
	Name string
	// Logger receives the server's logs; discarded when nil.
	Logger *slog.Logger
	// TLS, when set, serves HTTPS with the node's certificate; browsers and probes are not
	// asked for a certificate. Nil: plain HTTP.
	TLS *tlsconf.Provider
}

// Server is a running status server. Its methods are safe for concurrent use.
type Server struct {
	srv    *http.Server
	addr   string
	scheme string // http or https
	log    *slog.Logger
	wg     sync.WaitGroup // the serve goroutine

	closeOnce sync.Once
	closeErr  error
}

// Start binds the address and serves in its own goroutine until Close. Binding errors are
// returned here, not later: when Start returns nil the server is accepting connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Node == nil {
		return nil, ErrNoNode
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = event.Hostname()
	}
	ln, err := listen(cfg.Addr, cfg.AutoFindPort)
	if err != nil {
		return nil, err
	}
	s := &Server{addr: ln.Addr().String(), log: cfg.Logger, scheme: "http"}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS.ServerConfig(tlsconf.NoClientCert))
		s.scheme = "https"
	}
	h := &handler{node: cfg.Node, name: cfg.Name, now: time.Now}
	s.srv = &http.Server{
		Handler:           h.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(errorLog{log: cfg.Logger, refused: refusal.New(cfg.Logger, 0)}, "", 0),
	}
	s.log.Info("node status server listening", "addr", s.addr)
	s.wg.Add(1)
	go s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	defer s.wg.Done()
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("node status server stopped", "addr", s.addr, "err", err)
	}
}

// Addr returns the address the server listens on, with the port actually bound.
func (s *Server) Addr() string { return s.addr }

// URL returns the status page's URL: http://ADDR/ or, with TLS, https://ADDR/.
func (s *Server) URL() string { return s.scheme + "://" + s.addr + "/" }

// Close stops accepting connections and waits for the requests in progress; when ctx ends
// first it closes them. It returns once the serving goroutine has ended. Safe to call twice.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if err := s.srv.Shutdown(ctx); err != nil {
			// ctx ended with requests still running: cut them.
			s.closeErr = errors.Join(fmt.Errorf("shut down node status server: %w", err), s.srv.Close())
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// listen binds addr; when the port is taken and autoFind is set it tries the next ports.
func listen(addr string, autoFind bool) (net.Listener, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("node status address %q (%s): %w", addr, PortProperty, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("node status address %q (%s): bad port %q", addr, PortProperty, portText)
	}
	autoFind = autoFind && port != 0 // port 0 cannot be taken
	tries := 1
	if autoFind {
		tries = min(maxPortTries, 65536-port)
	}
	for i := range tries {
		a := net.JoinHostPort(host, strconv.Itoa(port+i))
		ln, err := net.Listen("tcp", a)
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s (%s): %w", a, PortProperty, err)
		}
	}
	if !autoFind {
		return nil, fmt.Errorf("listen on %s: %w; choose another port with %s or set %s=true",
			addr, ErrPortInUse, PortProperty, AutoFindPortProperty)
	}
	return nil, fmt.Errorf("listen on %s: ports %d to %d: %w; choose another port with %s",
		addr, port, port+tries-1, ErrPortInUse, PortProperty)
}

// errorLog takes net/http's error log: a failed TLS handshake is logged once per peer and quiet
// period (a scanner would otherwise write a line per connection), anything else as a warning.
type errorLog struct {
	log     *slog.Logger
	refused *refusal.Log
}

func (e errorLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if rest, ok := strings.CutPrefix(line, "http: TLS handshake error from "); ok {
		addr, why, _ := strings.Cut(rest, ": ")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		e.refused.Refuse("https "+host, "status page: TLS handshake refused", "peer", addr, "why", why)
		return len(p), nil
	}
	e.log.Warn(line)
	return len(p), nil
}
