package conf

// Kind is the type of a property's value. Every kind is written as text in flume-site.xml and
// -D; Validate parses it, and Map gives it back in the form components parse.
type Kind int

// The kinds of property values.
const (
	// KindString is free text, with ${name} references expanded.
	KindString Kind = iota
	// KindInt is a decimal integer within [Min, Max].
	KindInt
	// KindDuration is a number of milliseconds (classic), or a Go duration with a unit
	// ("30s", "1m30s") that must be a whole number of milliseconds; within [Min, Max] ms.
	KindDuration
	// KindBool is true or false, in any letter case.
	KindBool
	// KindPort is a TCP port number within [Min, Max].
	KindPort
	// KindHost is one host name or IP address.
	KindHost
	// KindList is a comma-separated list; blanks around items and empty items are dropped;
	// at least Min items.
	KindList
	// KindHostList is a comma-separated list of host, host:port or [ipv6]:port items; at
	// least Min items.
	KindHostList
	// KindChoice is one of Choices, matched in any letter case.
	KindChoice
)

var kindNames = [...]string{"string", "integer", "duration", "boolean", "port", "host",
	"list", "host list", "choice"}

// String returns the kind's name as the catalog shows it ("integer", "duration", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Property describes one configuration property: the classic name, the other spellings
// classic Flume used for it, its type, default and range.
type Property struct {
	// Name is the canonical name: the one classic Flume's code read. Map holds values under
	// this name, which is the one components ask for.
	Name string
	// Aliases are other spellings classic Flume used for the property (its shipped XML or its
	// user guide); they are accepted and mean the same property.
	Aliases []string
	// Kind is the value's type.
	Kind Kind
	// Default is the value when nothing sets the property, written as in a file; it may refer
	// to other properties with ${name}.
	Default string
	// Min and Max bound KindInt (in Unit), KindDuration (in milliseconds) and KindPort values.
	// For KindList and KindHostList, Min is the least number of items.
	Min, Max int64
	// Unit names what a KindInt counts, for messages ("bytes"); may be empty.
	Unit string
	// Choices are the accepted values of a KindChoice, in their canonical spelling.
	Choices []string
	// NonEmpty rejects an empty KindString.
	NonEmpty bool
	// Empty accepts an empty KindHost, which means "not set": the property's Doc says what
	// is used instead.
	Empty bool
	// Group says who reads the property: "master", "node", "agent", "collector" or
	// "security".
	Group string
	// New marks a property classic Flume did not have.
	New bool
	// Ignored, when not empty, marks a classic property this project accepts and ignores, and
	// says why (and what to use instead). An old flume-site.xml setting it still loads, with
	// a warning.
	Ignored string
	// Doc is a one-line description.
	Doc string
}

// Names of the properties this project reads. The catalog (Catalog) describes each.
const (
	MasterServers          = "flume.master.servers"
	MasterServerID         = "flume.master.serverid"
	MasterHTTPPort         = "flume.master.http.port"
	MasterHeartbeatPort    = "flume.master.heartbeat.port"
	MasterAdminPort        = "flume.config.admin.port"
	MasterRaftPort         = "flume.master.raft.port"
	MasterHeartbeatServers = "flume.master.heartbeat.servers"
	MasterDataDir          = "flume.master.data.dir"
	MasterBind             = "flume.master.bind"
	MasterAdminBind        = "flume.master.admin.bind"
	MasterHeartbeatBind    = "flume.master.heartbeat.bind"
	MasterRaftBind         = "flume.master.raft.bind"
	HeartbeatPeriod        = "flume.config.heartbeat.period"
	HeartbeatMissedMax     = "flume.config.heartbeat.missed.max"

	MasterRaftHeartbeatTimeout   = "flume.master.raft.heartbeat.timeout"
	MasterRaftElectionTimeout    = "flume.master.raft.election.timeout"
	MasterRaftLeaderLeaseTimeout = "flume.master.raft.leader.lease.timeout"
	MasterRaftCommitTimeout      = "flume.master.raft.commit.timeout"

	NodeDataDir                 = "flume.node.data.dir"
	NodeBind                    = "flume.node.bind"
	NodeStatusBind              = "flume.node.status.bind"
	NodeExecAllow               = "flume.node.exec.allow"
	SyslogBind                  = "flume.syslog.bind"
	NodeStatusPort              = "flume.node.status.port"
	NodeAutofindPort            = "flume.node.http.autofindport"
	NodeCloseTimeout            = "flume.node.close.timeout"
	NodeHeartbeatBackoff        = "flume.agent.heartbeat.backoff"
	NodeHeartbeatBackoffCeiling = "flume.node.heartbeat.backoff.ceiling"
	TailPollPeriod              = "flume.tail.pollperiod"
	EventMaxSize                = "flume.event.max.size.bytes"
	FlowDefaultName             = "flume.flow.default.name"

	AgentLogDir                  = "flume.agent.logdir"
	AgentLogMaxAge               = "flume.agent.logdir.maxage"
	AgentRetransmit              = "flume.agent.logdir.retransmit"
	AgentLogMaxBytes             = "flume.agent.logdir.maxbytes"
	AgentLogMinFreeBytes         = "flume.agent.logdir.minfreebytes"
	FailoverBackoffInitial       = "flume.agent.failover.backoff.initial"
	FailoverBackoffMax           = "flume.agent.failover.backoff.max"
	FailoverBackoffCumulativeMax = "flume.agent.failover.backoff.cumulativemax"
	InsistentOpenInitBackoff     = "flume.inisistentOpen.init.backoff" // sic: classic spelling

	CollectorHost          = "flume.collector.event.host"
	CollectorBind          = "flume.collector.event.bind"
	CollectorPort          = "flume.collector.event.port"
	CollectorRollMillis    = "flume.collector.roll.millis"
	CollectorOutputFormat  = "flume.collector.output.format"
	CollectorDFSDir        = "flume.collector.dfs.dir"
	CollectorCompressCodec = "flume.collector.dfs.compress.codec"

	TLSCA             = "flume.tls.ca"
	TLSCert           = "flume.tls.cert"
	TLSKey            = "flume.tls.key"
	TLSClientAuth     = "flume.tls.client.auth"
	ACLEnabled        = "flume.acl.enabled"
	ACLBootstrapToken = "flume.acl.bootstrap.token.file"
	ACLTokenFile      = "flume.acl.token.file"
)

// Bounds shared by many properties, in milliseconds.
const (
	hourMillis = 3_600_000
	dayMillis  = 24 * hourMillis
	longMillis = 1 << 40 // about 35 years: "practically forever", far from overflowing
)

// Notes of the ignored classic properties, shared by their families.
const (
	noteZK     = "masters replicate their state with Raft (see flume.master.raft.port and flume.master.data.dir); there is no ZooKeeper"
	noteGossip = "acknowledgements are part of the masters' replicated state; there is no gossip"
	noteRPC    = "every connection uses gRPC; there is no Thrift or Avro RPC to choose"
	noteThrift = "there is no Thrift transport"
	noteNoComp = "this project has no such component"
	noteWebapp = "the web pages are built into the daemons"
	noteReport = "nodes send their metrics to the master over their session"
)

// catalog lists every property this project knows, supported or ignored.
var catalog = []Property{
	// Masters.
	{Name: MasterServers, Kind: KindHostList, Default: "localhost", Min: 1, Group: "master",
		Doc: "the masters of the ensemble, comma-separated, each a host or host:port; all masters and nodes list the same ones"},
	{Name: MasterServerID, Kind: KindInt, Default: "0", Min: 0, Max: 999, Group: "master",
		Doc: "this master's 0-based index in flume.master.servers; unique per master"},
	{Name: MasterHTTPPort, Kind: KindPort, Default: "35871", Min: 1, Max: 65535, Group: "master",
		Doc: "port of the master's web UI"},
	{Name: MasterHeartbeatPort, Kind: KindPort, Default: "35872", Min: 1, Max: 65535, Group: "master",
		Doc: "port on which the master serves node sessions (heartbeats, configurations, acks)"},
	{Name: MasterAdminPort, Aliases: []string{"flume.master.admin.port"}, Kind: KindPort, Default: "35873",
		Min: 1, Max: 65535, Group: "master",
		Doc: "port of the master's admin service, used by flumectl"},
	{Name: MasterRaftPort, Kind: KindPort, Default: "35874", Min: 1, Max: 65535, Group: "master", New: true,
		Doc: "port on which masters replicate their state to each other (Raft)"},
	{Name: MasterHeartbeatServers, Kind: KindHostList, Default: "", Min: 0, Group: "node",
		Doc: "host:port of each master for nodes to reach; empty: flume.master.servers at flume.master.heartbeat.port"},
	{Name: MasterDataDir, Kind: KindString, Default: "data/master", NonEmpty: true, Group: "master", New: true,
		Doc: "directory of the master's replicated log and snapshots"},
	{Name: MasterBind, Kind: KindHost, Default: "", Empty: true, Group: "master", New: true,
		Doc: "address every listener of the master binds (flag --bind); empty: the master's own host in flume.master.servers"},
	{Name: MasterAdminBind, Kind: KindHost, Default: "${" + MasterBind + "}", Empty: true, Group: "master", New: true,
		Doc: "address the admin service binds; empty: as flume.master.bind"},
	{Name: MasterHeartbeatBind, Kind: KindHost, Default: "${" + MasterBind + "}", Empty: true, Group: "master", New: true,
		Doc: "address the node service (sessions, commits) binds; empty: as flume.master.bind"},
	{Name: MasterRaftBind, Kind: KindHost, Default: "${" + MasterBind + "}", Empty: true, Group: "master", New: true,
		Doc: "address the raft transport binds; empty: as flume.master.bind"},
	{Name: HeartbeatPeriod, Kind: KindDuration, Default: "1000", Min: 10, Max: 10 * 60_000, Group: "master",
		Doc: "milliseconds between two heartbeats of a node"},
	{Name: HeartbeatMissedMax, Aliases: []string{"flume.master.heartbeat.missed.max"}, Kind: KindInt, Default: "5",
		Min: 1, Max: 1000, Group: "master",
		Doc: "heartbeats a node may miss before the master reports it LOST"},
	{Name: MasterRaftHeartbeatTimeout, Kind: KindDuration, Default: "1000", Min: 5, Max: 60_000, Group: "master", New: true,
		Doc: "milliseconds a master waits without hearing from the leader before it calls an election (randomised up to twice this); shorter re-elects faster, but a busy host then loses its leader for nothing"},
	{Name: MasterRaftElectionTimeout, Kind: KindDuration, Default: "1000", Min: 5, Max: 60_000, Group: "master", New: true,
		Doc: "milliseconds a candidate waits for votes before it tries again (randomised up to twice this); at least flume.master.raft.heartbeat.timeout"},
	{Name: MasterRaftLeaderLeaseTimeout, Kind: KindDuration, Default: "1000", Min: 5, Max: 60_000, Group: "master", New: true,
		Doc: "milliseconds a leader keeps leading without hearing from a majority; at most flume.master.raft.heartbeat.timeout"},
	{Name: MasterRaftCommitTimeout, Kind: KindDuration, Default: "50", Min: 1, Max: 60_000, Group: "master", New: true,
		Doc: "milliseconds a follower may go without learning what is committed when the leader has nothing to send"},

	// Nodes.
	{Name: NodeDataDir, Kind: KindString, Default: "data", NonEmpty: true, Group: "node", New: true,
		Doc: "directory of the node's state: tail positions, agent logs (flag --data-dir)"},
	{Name: NodeBind, Kind: KindHost, Default: "127.0.0.1", Group: "node", New: true,
		Doc: "address every listener of the node binds (flag --bind): status page, collector and syslog sources; 0.0.0.0 for all interfaces, which needs TLS or --insecure"},
	{Name: NodeStatusBind, Kind: KindHost, Default: "${" + NodeBind + "}", Group: "node", New: true,
		Doc: "address the node's status page binds"},
	{Name: SyslogBind, Kind: KindHost, Default: "${" + NodeBind + "}", Group: "node", New: true,
		Doc: "address syslog sources (syslogUdp, syslogTcp, syslogTcp1) bind"},
	{Name: NodeExecAllow, Kind: KindString, Default: "false", NonEmpty: true, Group: "security", New: true,
		Doc: "whether the node runs exec, execPeriodic and execStream sources pushed by the masters: false, true, or a file of allowed command prefixes (flows given with -c always may)"},
	{Name: NodeStatusPort, Aliases: []string{"flume.node.http.port"}, Kind: KindPort, Default: "35862",
		Min: 0, Max: 65535, Group: "node",
		Doc: "port of the node's status web page and metrics; 0 picks a free port"},
	{Name: NodeAutofindPort, Kind: KindBool, Default: "true", Group: "node",
		Doc: "if the status port is busy, try the next ports instead of failing"},
	{Name: NodeCloseTimeout, Kind: KindDuration, Default: "30000", Min: 0, Max: hourMillis, Group: "node",
		Doc: "milliseconds a logical node may take to flush and close when it stops"},
	{Name: NodeHeartbeatBackoff, Kind: KindDuration, Default: "250", Min: 1, Max: hourMillis, Group: "node",
		Doc: "first wait, in milliseconds, before a node tries the masters again after losing its session (classic: 1000)"},
	{Name: NodeHeartbeatBackoffCeiling, Kind: KindDuration, Default: "1000", Min: 1, Max: hourMillis, Group: "node",
		Doc: "longest wait, in milliseconds, between a node's attempts to reach the leading master; short, so a node reports to a new leader within about a second of a majority's return (classic: 60000)"},
	{Name: TailPollPeriod, Kind: KindDuration, Default: "1000", Min: 1, Max: hourMillis, Group: "node",
		Doc: "milliseconds between two checks of a tailed file for new data"},
	{Name: EventMaxSize, Kind: KindInt, Default: "32768", Min: 1, Max: 16 << 20, Unit: "bytes", Group: "node",
		Doc: "largest event body; sources truncate or reject larger ones, and count them"},
	{Name: FlowDefaultName, Kind: KindString, Default: "default-flow", NonEmpty: true, Group: "node",
		Doc: "flow of a logical node configured without one"},

	// Agents: reliability and failover.
	{Name: AgentLogDir, Kind: KindString, Default: "${flume.node.data.dir}/agent", NonEmpty: true, Group: "agent",
		Doc: "directory of the agent's write-ahead and disk-failover logs"},
	{Name: AgentLogMaxAge, Kind: KindDuration, Default: "10000", Min: 1, Max: dayMillis, Group: "agent",
		Doc: "milliseconds after which an agent log chunk is closed and sent"},
	{Name: AgentRetransmit, Kind: KindDuration, Default: "60000", Min: 1, Max: dayMillis, Group: "agent",
		Doc: "milliseconds after which an unacknowledged end-to-end chunk is sent again"},
	{Name: AgentLogMaxBytes, Kind: KindInt, Default: "1073741824", Min: 1 << 20, Max: 1 << 50, Unit: "bytes",
		Group: "agent", New: true,
		Doc: "size cap of the agent logs; at the cap, sources pause instead of filling the disk"},
	{Name: AgentLogMinFreeBytes, Kind: KindInt, Default: "104857600", Min: 0, Max: 1 << 50, Unit: "bytes",
		Group: "agent", New: true,
		Doc: "free disk space the agent logs leave; below it, sources pause"},
	{Name: FailoverBackoffInitial, Kind: KindDuration, Default: "1000", Min: 1, Max: longMillis, Group: "agent",
		Doc: "first wait, in milliseconds, before a failed failover branch is tried again"},
	{Name: FailoverBackoffMax, Kind: KindDuration, Default: "60000", Min: 1, Max: longMillis, Group: "agent",
		Doc: "longest wait, in milliseconds, between two tries of a failed branch"},
	{Name: FailoverBackoffCumulativeMax, Kind: KindDuration, Default: "0", Min: 0, Max: longMillis, Group: "agent",
		Doc: "total wait, in milliseconds, after which insistentOpen and insistentAppend give up; 0: never"},
	{Name: InsistentOpenInitBackoff, Aliases: []string{"flume.insistentOpen.init.backoff"}, Kind: KindDuration,
		Default: "1000", Min: 1, Max: longMillis, Group: "agent",
		Doc: "first wait, in milliseconds, of insistentOpen and insistentAppend (classic spelling, sic)"},

	// Collectors.
	{Name: CollectorHost, Kind: KindHost, Default: "localhost", Group: "collector",
		Doc: "host of the default collector, for agent sinks given no host"},
	{Name: CollectorBind, Kind: KindHost, Default: "${" + NodeBind + "}", Group: "collector", New: true,
		Doc: "address collector sources bind, including ports the masters assign"},
	{Name: CollectorPort, Aliases: []string{"flume.collector.port"}, Kind: KindPort, Default: "35853",
		Min: 1, Max: 65535, Group: "collector",
		Doc: "port collectorSource listens on, and agent sinks send to, when given none"},
	{Name: CollectorRollMillis, Kind: KindDuration, Default: "30000", Min: 1, Max: longMillis, Group: "collector",
		Doc: "milliseconds between two rolls of a collector's output files"},
	{Name: CollectorOutputFormat, Kind: KindString, Default: "avrojson", NonEmpty: true, Group: "collector",
		Doc: "output format of collectorSink when given none (raw, json, avrojson, avrodata, syslog, log4j, debug)"},
	{Name: CollectorDFSDir, Kind: KindString, Default: "${flume.node.data.dir}/collected", NonEmpty: true,
		Group: "collector", Doc: "directory or hdfs:// URL collectorSink writes to when given none"},
	{Name: CollectorCompressCodec, Kind: KindChoice, Default: "None",
		Choices: []string{"None", "GzipCodec", "DefaultCodec", "BZip2Codec", "ZStandardCodec", "SnappyCodec"}, Group: "collector",
		Doc: "compression of collector output files, with Hadoop's framing and extensions (.gz, .deflate, .bz2, .zst, .snappy)"},

	{Name: "flume.collector.roll.bytes", Kind: KindInt, Default: "0", Min: 0, Max: 1 << 50, Unit: "bytes", Group: "collector", New: true,
		Doc: "size at which a collector sink ends a file and starts the next (finalized within a second); 0: by time only"},
	{Name: "flume.collector.max.open", Kind: KindInt, Default: "256", Min: 1, Max: 1 << 20, Group: "collector", New: true,
		Doc: "most files a collector sink keeps open; opening one more finalizes the least recently written"},
	{Name: "flume.collector.idle.millis", Kind: KindDuration, Default: "0", Min: 0, Max: longMillis, Group: "collector", New: true,
		Doc: "milliseconds a collector sink's file may go unwritten before it is finalized; 0: never (only at the roll)"},

	// HDFS, for collector sinks writing to hdfs:// paths.
	{Name: "flume.hdfs.conf.dir", Kind: KindString, Default: "", Group: "collector", New: true,
		Doc: "directory of the Hadoop configuration (core-site.xml, hdfs-site.xml); empty: HADOOP_CONF_DIR, else HADOOP_HOME/conf"},
	{Name: "flume.hdfs.user", Kind: KindString, Default: "", Group: "collector", New: true,
		Doc: "user HDFS files are written as, unless the path names one; empty: HADOOP_USER_NAME, else the OS user"},
	{Name: "flume.hdfs.replication", Kind: KindInt, Default: "0", Min: 0, Max: 512, Group: "collector", New: true,
		Doc: "replication of new HDFS files; 0: dfs.replication of the Hadoop configuration, else the NameNode's default"},
	{Name: "flume.hdfs.blocksize", Kind: KindInt, Default: "0", Min: 0, Max: 1 << 40, Unit: "bytes", Group: "collector", New: true,
		Doc: "block size of new HDFS files; 0: dfs.blocksize of the Hadoop configuration, else the NameNode's default"},
	{Name: "flume.hdfs.close.per.commit", Kind: KindBool, Default: "false", Group: "collector", New: true,
		Doc: "close and reopen every HDFS file a commit group wrote before its chunks are acked (data in completed blocks), instead of hflush (data on every DataNode of the pipeline)"},
	{Name: "flume.security.kerberos.principal", Kind: KindString, Default: "", Group: "security",
		Doc: "Kerberos principal (user@REALM) collectors log in to a kerberized HDFS as, with flume.security.kerberos.keytab; empty: the credential cache of KRB5CCNAME"},
	{Name: "flume.security.kerberos.keytab", Kind: KindString, Default: "/etc/flume/conf/krb5.keytab", Group: "security",
		Doc: "keytab of flume.security.kerberos.principal"},

	// Security.
	{Name: TLSCA, Kind: KindString, Default: "", Group: "security", New: true,
		Doc: "PEM file of the certificate authorities that sign the ensemble's certificates; set with flume.tls.cert and flume.tls.key to turn TLS on for every listener and client"},
	{Name: TLSCert, Kind: KindString, Default: "", Group: "security", New: true,
		Doc: "PEM file of this daemon's certificate (chain); reloaded on SIGHUP and when the file changes"},
	{Name: TLSKey, Kind: KindString, Default: "", Group: "security", New: true,
		Doc: "PEM file of the private key of flume.tls.cert"},
	{Name: TLSClientAuth, Kind: KindChoice, Default: "verify", Choices: []string{"none", "verify"}, Group: "security", New: true,
		Doc: "verify: clients of the admin, node-session and collector ports must present a certificate of flume.tls.ca (mutual TLS); none: any client may connect. The raft port always verifies"},
	{Name: ACLEnabled, Kind: KindBool, Default: "false", Group: "security", New: true,
		Doc: "require a token of the right role for every admin call, and a node identity (token or certificate) for every node call"},
	{Name: ACLBootstrapToken, Kind: KindString, Default: "", Group: "security", New: true,
		Doc: "file holding the secret of the first admin token; the ensemble creates that token once"},
	{Name: ACLTokenFile, Kind: KindString, Default: "", Group: "security", New: true,
		Doc: "file holding the token this daemon presents to the masters (a node's node token)"},

	// Classic properties this project ignores.
	ignored("flume.master.store", "masters always keep their state in the replicated log under flume.master.data.dir"),
	ignored("flume.master.zk.logdir", noteZK),
	ignored("flume.master.zk.client.port", noteZK),
	ignored("flume.master.zk.server.quorum.port", noteZK),
	ignored("flume.master.zk.server.election.port", noteZK),
	ignored("flume.master.zk.servers", noteZK),
	ignored("flume.master.zk.use.external", noteZK),
	ignored("flume.zk.ticktime", noteZK),
	ignored("flume.zk.initlimit", noteZK),
	ignored("flume.zk.synclimit", noteZK),
	ignored("flume.master.gossip.port", noteGossip),
	ignored("flume.master.gossip.servers", noteGossip),
	ignored("flume.master.gossip.period", noteGossip),
	ignored("flume.master.gossip.maxage", noteGossip),
	ignored("flume.master.savefile", "configurations are kept in the masters' replicated state"),
	ignored("flume.master.savefile.autoload", "configurations are kept in the masters' replicated state"),
	ignored("flume.master.heartbeat.rpc", noteRPC),
	ignored("flume.event.rpc", noteRPC),
	ignored("flume.report.server.rpc.type", noteRPC),
	ignored("flume.report.server.port", noteReport),
	ignored("flume.reporter.poller.period", noteReport),
	ignored("flume.thrift.queuesize", noteThrift),
	ignored("flume.thrift.socket.timeout.ms", noteThrift),
	ignored("flume.thrift.close.maxsleep", noteThrift),
	ignored("flume.poller.queuesize", "sources hand batches to their flow directly, with no poller queue"),
	ignored("flume.countHistory.period", noteReport),
	ignored("flume.history.maxlength", noteReport),
	ignored("flume.agent.multimaster.maxretries", "a node tries the masters in turn forever, backing off as flume.agent.heartbeat.backoff says"),
	ignored("flume.agent.multimaster.retrybackoff", "a node backs off between masters as flume.agent.heartbeat.backoff and flume.node.heartbeat.backoff.ceiling say"),
	ignored("flume.agent.mem.threshold", "a setting of the Java garbage collector"),
	ignored("flume.node.wal.output.buffered", "the write-ahead log always groups writes and syncs once per group"),
	ignored("flume.collector.dfs.compress.gzip", "set flume.collector.dfs.compress.codec to GzipCodec instead"),
	ignored("flume.plugin.classes", "components are compiled in; there are no Java plugin classes to load"),
	ignored("flume.plugin.outputformat.classes", "output formats are compiled in; there are no Java plugin classes to load"),
	ignored("watchdog.restarts.max", "there is no watchdog process; use the service manager's restart policy"),
	ignored("flume.webapps.path", noteWebapp),
	ignored("flume.node.webapp.root", noteWebapp),
	ignored("flume.master.webapp.root", noteWebapp),
	ignored("flume.scribe.source.port", noteNoComp+" (scribe)"),
	ignored("flume.irc.encoding", noteNoComp+" (irc)"),
	ignored("flume.twitter.url", noteNoComp+" (twitter)"),
	ignored("flume.twitter.username", noteNoComp+" (twitter)"),
	ignored("flume.twitter.password", noteNoComp+" (twitter)"),
	ignored("flume.hive.host", noteNoComp+" (hive)"),
	ignored("flume.hive.port", noteNoComp+" (hive)"),
	ignored("flume.hive.user", noteNoComp+" (hive)"),
	ignored("flume.hive.userpw", noteNoComp+" (hive)"),
	ignored("flume.ganglia.servers", noteNoComp+" (ganglia)"),
}

// ignored returns the entry of a classic property that is accepted and ignored.
func ignored(name, note string) Property {
	return Property{Name: name, Ignored: note, Doc: "classic; ignored: " + note}
}

// byName indexes the catalog by every spelling. Names match exactly, as in classic Flume; a
// slip of case is an unknown property, warned about with the right spelling.
var byName = func() map[string]*Property {
	m := make(map[string]*Property, len(catalog)*2)
	for i := range catalog {
		p := &catalog[i]
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			if _, dup := m[n]; dup {
				panic("conf: property " + n + " is in the catalog twice")
			}
			m[n] = p
		}
	}
	return m
}()

// allNames are every known spelling, for suggestions.
var allNames = func() []string {
	var names []string
	for _, p := range catalog {
		names = append(names, p.Name)
		names = append(names, p.Aliases...)
	}
	return names
}()

// Catalog returns every property this project knows, supported and ignored, in catalog order
// (masters, nodes, agents, collectors, then ignored classic properties). The result is a copy.
func Catalog() []Property {
	out := make([]Property, len(catalog))
	copy(out, catalog)
	return out
}

// Lookup returns the property name refers to, by its canonical name or an alias.
func Lookup(name string) (Property, bool) {
	p, ok := byName[name]
	if !ok {
		return Property{}, false
	}
	return *p, true
}
