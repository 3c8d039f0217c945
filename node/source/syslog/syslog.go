// Package syslog holds the syslog sources of classic Flume: syslogUdp (one message per
// datagram), syslogTcp (any number of connections) and syslogTcp1 (one connection, then the
// source ends).
//
// Every message becomes an event. As in classic Flume, the body is the message after its
// <PRI>, header included, so that the syslogTcp sink writes the line back as it came, and the
// attributes syslogfacility and syslogseverity hold the facility and the severity as one byte
// each. Where classic Flume stamped events with their arrival and left them at INFO, the
// header is parsed (RFC 5424 when a version follows the PRI, RFC 3164 otherwise, with
// github.com/leodido/go-syslog):
//
//   - the timestamp is the header's, or the arrival time when it has none. RFC 3164 times
//     carry neither year nor zone: they are taken in the node's zone, in the year that puts
//     them nearest to their arrival;
//   - the priority follows the severity, by classic Flume's table: emergency, alert and
//     critical are FATAL, error ERROR, warning WARN, notice and informational INFO, debug
//     DEBUG;
//   - the host is the header's hostname, or this node's when it has none;
//   - the header's fields that are present are attributes: sysloghost, syslogapp (the RFC
//     3164 tag), syslogprocid, syslogmsgid, and the RFC 5424 structured data as
//     syslogsd.<SD-ID>.<param> (syslogsd.<SD-ID>, empty, for an element without parameters).
//
// Malformed messages are kept, where classic Flume dropped them: a message without a valid
// PRI becomes an event whose body is the whole message and whose attribute syslogerror says
// what is wrong; an RFC 5424 header that does not parse keeps its body and PRI attributes and
// gets syslogerror too. Both are counted in parse_errors. An RFC 3164 message without a header
// is not malformed (RFC 3164, section 4.3.3): it is stamped with its arrival.
//
// TCP connections are framed by newlines, as classic Flume read them, or by octet counting
// (RFC 6587), chosen by the first byte of each connection. When a sender closes its
// connection, its unterminated last line is a message, as in classic Flume. A message cut
// short, the end of a connection the source closed or an octet-counted message shorter than
// its count, is kept as malformed (syslogerror).
//
// Each connection, and the UDP socket, fills a queue of two batches that Next empties: a
// connection whose queue is full stops reading its socket, so a flood slows its sender
// instead of growing memory, and the UDP socket drops datagrams (counted in events_dropped)
// while its queue is full.
//
// Messages are limited to flume.event.max.size.bytes: longer ones are cut to it (or, with
// oversize="reject", dropped), counted in events_truncated (events_rejected). The sources
// count events_in and bytes_in, and the TCP ones connections (accepted) and connections_open,
// under their name in the flow's metrics view (source.syslogTcp.events_in).
//
// The default port is classic Flume's, 514, which needs privileges; port 0 takes any free
// port, which Addr tells once the source is open.
package syslog

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// DefaultPort is the port the syslog sources listen on when none is given: the syslog port,
// as in classic Flume.
const DefaultPort = 514

// The attributes the syslog sources set.
const (
	// AttrFacility is the facility, one byte (0 to 23).
	AttrFacility = "syslogfacility"
	// AttrSeverity is the severity, one byte (0 to 7).
	AttrSeverity = "syslogseverity"
	// AttrHost is the header's hostname.
	AttrHost = "sysloghost"
	// AttrApp is the header's APP-NAME (RFC 5424) or TAG (RFC 3164).
	AttrApp = "syslogapp"
	// AttrProcID is the header's PROCID (RFC 5424) or the bracketed part of the tag (RFC 3164).
	AttrProcID = "syslogprocid"
	// AttrMsgID is the header's MSGID (RFC 5424).
	AttrMsgID = "syslogmsgid"
	// AttrSDPrefix starts the name of every structured data attribute:
	// syslogsd.<SD-ID>.<param>.
	AttrSDPrefix = "syslogsd."
	// AttrError says why a message is malformed.
	AttrError = "syslogerror"
)

var (
	// ErrNotOpen is returned by Next before Open.
	ErrNotOpen = errors.New("syslog source not open")
	// ErrClosed is returned by Open after Close.
	ErrClosed = errors.New("syslog source closed")
	// ErrNoPRI is the syslogerror of a message that does not start with a valid PRI.
	ErrNoPRI = errors.New("no <PRI> of 0 to 191 at the start of the message")
	// ErrCut is the syslogerror of the unterminated end of a connection that the source
	// closed, or of a message shorter than its octet count: a message cut short.
	ErrCut = errors.New("message cut short: the connection ended inside it")
)

// BindProperty is the property of the address syslog sources bind.
const BindProperty = "flume.syslog.bind"

var portParam = spec.Param{Name: "port", Kind: spec.ParamInt, Default: "514"}

// tlsParam: on a node with TLS (flume.tls.*), TCP sources speak syslog over TLS (RFC 5425)
// unless tls=false, for senders that speak plaintext only. Senders are not asked for a client
// certificate.
var tlsParam = spec.Param{Name: "tls", Kind: spec.ParamBool, KeywordOnly: true, Default: "true"}

var (
	udpSig = spec.Signature{
		Name:      "syslogUdp",
		Params:    []spec.Param{portParam, record.OversizeParam},
		UsageText: `syslogUdp([port=514]{, oversize="truncate|reject"})`,
	}
	tcpSig = spec.Signature{
		Name:      "syslogTcp",
		Params:    []spec.Param{portParam, record.OversizeParam, tlsParam},
		UsageText: `syslogTcp([port=514]{, oversize="truncate|reject", tls=true})`,
	}
	tcp1Sig = spec.Signature{
		Name:      "syslogTcp1",
		Params:    []spec.Param{portParam, record.OversizeParam, tlsParam},
		UsageText: `syslogTcp1([port=514]{, oversize="truncate|reject", tls=true})`,
	}
)

// Register adds syslogUdp, syslogTcp and syslogTcp1 to r.
func Register(r *plugin.Registry) {
	r.RegisterSource(udpSig, "syslog messages from UDP datagrams, one per datagram", buildUDP)
	r.RegisterSource(tcpSig, "syslog messages from any number of TCP connections, newline or octet-count framed", buildTCP)
	r.RegisterSource(tcp1Sig, "syslog messages from one TCP connection; ends when it closes", buildTCP1)
}

func buildUDP(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return build(bc, args, "udp", false)
}

func buildTCP(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return build(bc, args, "tcp", false)
}

func buildTCP1(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return build(bc, args, "tcp", true)
}

// build checks the arguments and makes the source; it does no I/O.
func build(bc *plugin.BuildContext, args *spec.Args, network string, single bool) (*Source, error) {
	port := args.Int(portParam.Name, DefaultPort)
	if port < 0 || port > 65535 {
		return nil, args.Errorf(portParam.Name, "port %d out of range 0 to 65535", port)
	}
	policy, err := record.OversizeWhole(args, "a syslog message")
	if err != nil {
		return nil, err
	}
	reg := bc.Counters().Sub(args.Name())
	var tlsConf *tls.Config
	if network == "tcp" && bc != nil && bc.TLS != nil && args.Bool(tlsParam.Name, true) {
		tlsConf = bc.TLS.ServerConfig(tlsconf.NoClientCert)
	}
	return &Source{
		name:     args.Name(),
		network:  network,
		bind:     bc.Prop(BindProperty, "127.0.0.1"),
		tls:      tlsConf,
		port:     int(port),
		single:   single,
		max:      bc.MaxEventSize(),
		policy:   policy,
		host:     event.Hostname(),
		loc:      time.Local,
		log:      bc.Log().With("source", args.Name()),
		ctr:      newCounters(reg, network),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		notify:   make(chan struct{}, 1),
	}, nil
}

// counters are what a syslog source counts.
type counters struct {
	record.Counters
	parseErrors *metrics.Counter
	// dropped is UDP's; accepted and open are TCP's.
	dropped  *metrics.Counter
	accepted *metrics.Counter
	open     *metrics.Gauge
}

func newCounters(reg *metrics.Registry, network string) counters {
	c := counters{Counters: record.NewCounters(reg), parseErrors: reg.Counter("parse_errors")}
	if network == "udp" {
		c.dropped = reg.Counter("events_dropped")
	} else {
		c.accepted = reg.Counter("connections")
		c.open = reg.Gauge("connections_open")
	}
	return c
}
