package hdfs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/colinmarc/hdfs/v2/hadoopconf"
)

// Properties of this backend.
const (
	PropConfDir        = "flume.hdfs.conf.dir"
	PropUser           = "flume.hdfs.user"
	PropReplication    = "flume.hdfs.replication"
	PropBlockSize      = "flume.hdfs.blocksize"
	PropClosePerCommit = "flume.hdfs.close.per.commit"
	PropPrincipal      = "flume.security.kerberos.principal"
	PropKeytab         = "flume.security.kerberos.keytab"
)

// DefaultPort is the NameNode's RPC port when a path gives none.
const DefaultPort = "8020"

// ErrConfig is wrapped by every error of a path or setting this backend cannot use.
var ErrConfig = errors.New("hdfs")

// Settings are what a node's properties and its Hadoop configuration say about HDFS.
type Settings struct {
	// Conf is the Hadoop configuration (core-site.xml, hdfs-site.xml), nil when none was
	// found; ConfDir is where it was looked for.
	Conf    hadoopconf.HadoopConf
	ConfDir string
	// User is who files are written as, unless a path names one.
	User string
	// Replication and BlockSize of new files; 0 takes the NameNode's default.
	Replication int
	BlockSize   int64
	// ClosePerCommit makes Sync close and reopen files instead of hflush.
	ClosePerCommit bool
	// Principal and Keytab authenticate to a kerberized cluster.
	Principal, Keytab string
}

// LoadSettings reads the settings; prop returns a property's value, or def when it is unset.
func LoadSettings(prop func(name, def string) string) (Settings, error) {
	s := Settings{Principal: prop(PropPrincipal, ""), Keytab: prop(PropKeytab, "")}
	var err error
	dir := prop(PropConfDir, "")
	switch {
	case dir != "":
		s.ConfDir = dir
		s.Conf, err = hadoopconf.Load(dir)
	case os.Getenv("HADOOP_CONF_DIR") != "":
		s.ConfDir = os.Getenv("HADOOP_CONF_DIR")
		s.Conf, err = hadoopconf.Load(s.ConfDir)
	case os.Getenv("HADOOP_HOME") != "":
		s.ConfDir = filepath.Join(os.Getenv("HADOOP_HOME"), "conf")
		s.Conf, err = hadoopconf.Load(s.ConfDir)
	}
	if err != nil {
		return s, fmt.Errorf("%w: Hadoop configuration in %s: %v", ErrConfig, s.ConfDir, err)
	}
	s.User = prop(PropUser, "")
	if s.User == "" {
		s.User = os.Getenv("HADOOP_USER_NAME")
	}
	if s.User == "" {
		if u, err := user.Current(); err == nil {
			s.User = u.Username
		}
	}
	if s.Replication, err = intSetting(prop, PropReplication, s.Conf["dfs.replication"], 0, 512); err != nil {
		return s, err
	}
	bs, err := intSetting(prop, PropBlockSize, s.Conf["dfs.blocksize"], 0, 1<<40)
	if err != nil {
		return s, err
	}
	s.BlockSize = int64(bs)
	if v := prop(PropClosePerCommit, "false"); v != "" {
		if s.ClosePerCommit, err = strconv.ParseBool(v); err != nil {
			return s, fmt.Errorf("%w: property %s: %q is not true or false", ErrConfig, PropClosePerCommit, v)
		}
	}
	return s, nil
}

// intSetting reads a whole number from a property (0 is unset), else from the Hadoop configuration's value
// hadoop (which may carry a size suffix, as dfs.blocksize = 128m), else 0.
func intSetting(prop func(name, def string) string, name, hadoop string, lo, hi int) (int, error) {
	v, from := prop(name, ""), "property "+name
	if v == "" || v == "0" {
		v, from = hadoop, "Hadoop configuration"
	}
	if v == "" {
		return 0, nil
	}
	n, err := parseSize(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s: %q is not a whole number from %d to %d", ErrConfig, from, v, lo, hi)
	}
	return n, nil
}

// parseSize reads a number with an optional Hadoop size suffix (k, m, g, t; case aside).
func parseSize(v string) (int, error) {
	v = strings.TrimSpace(v)
	mult := 1
	if v != "" {
		switch strings.ToLower(v[len(v)-1:]) {
		case "k":
			mult = 1 << 10
		case "m":
			mult = 1 << 20
		case "g":
			mult = 1 << 30
		case "t":
			mult = 1 << 40
		}
		if mult > 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}

// Target is where an hdfs:// path leads.
type Target struct {
	// Addresses are the NameNodes' RPC addresses, tried in turn.
	Addresses []string
	// User writes the files.
	User string
	// Path is the path on the cluster, starting with "/".
	Path string
	// Authority is what the URL named: host:port, a nameservice, or fs.defaultFS's.
	Authority string
}

// Resolve works out the NameNodes, user and path of an hdfs:// URL. It does no I/O.
func Resolve(raw string, s Settings) (Target, error) {
	rest, ok := cutScheme(raw)
	if !ok {
		return Target{}, fmt.Errorf("%w: %q is not an hdfs:// path", ErrConfig, raw)
	}
	authority, p := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, p = rest[:i], rest[i:]
	}
	t := Target{User: s.User, Path: path.Clean(p)}
	if strings.HasSuffix(p, "/") && t.Path != "/" {
		t.Path += "/" // a trailing slash matters to a template: the prefix that follows
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		t.User, authority = authority[:at], authority[at+1:]
		if t.User == "" {
			return Target{}, fmt.Errorf("%w: %q: empty user before '@'", ErrConfig, raw)
		}
	}
	if authority == "" {
		def := s.Conf["fs.defaultFS"]
		if def == "" {
			def = s.Conf["fs.default.name"]
		}
		if def == "" {
			where := "no Hadoop configuration was found (set HADOOP_CONF_DIR or " + PropConfDir + ")"
			switch {
			case s.Conf != nil:
				where = "core-site.xml in " + s.ConfDir + " does not set it"
			case s.ConfDir != "":
				where = "no core-site.xml or hdfs-site.xml was found in " + s.ConfDir
			}
			return Target{}, fmt.Errorf("%w: %q names no NameNode, and fs.defaultFS is unset: %s", ErrConfig, raw, where)
		}
		u, err := url.Parse(def)
		if err != nil || !strings.EqualFold(u.Scheme, "hdfs") || u.Host == "" {
			return Target{}, fmt.Errorf("%w: %q names no NameNode, and fs.defaultFS %q is not hdfs://host[:port]", ErrConfig, raw, def)
		}
		authority = u.Host
	}
	t.Authority = authority
	addrs, err := namenodes(authority, s)
	if err != nil {
		return Target{}, fmt.Errorf("%w: %q: %v", ErrConfig, raw, err)
	}
	t.Addresses = addrs
	if t.User == "" {
		return Target{}, fmt.Errorf("%w: %q: no user to write as; set %s or HADOOP_USER_NAME", ErrConfig, raw, PropUser)
	}
	return t, nil
}

// CheckURL checks the form of an hdfs:// URL without a Hadoop configuration: a master checks
// specs that run on collectors with their own.
func CheckURL(raw string) error {
	s := Settings{User: "check", Conf: hadoopconf.HadoopConf{"fs.defaultFS": "hdfs://default"}}
	_, err := Resolve(raw, s)
	return err
}

// cutScheme returns what follows "hdfs://" (any case).
func cutScheme(raw string) (string, bool) {
	const scheme = "hdfs://"
	if len(raw) < len(scheme) || !strings.EqualFold(raw[:len(scheme)], scheme) {
		return "", false
	}
	return raw[len(scheme):], true
}

// namenodes returns the RPC addresses of a nameservice, or host:port itself.
func namenodes(authority string, s Settings) ([]string, error) {
	if ids := s.Conf["dfs.ha.namenodes."+authority]; ids != "" {
		var addrs []string
		for _, id := range strings.Split(ids, ",") {
			id = strings.TrimSpace(id)
			key := "dfs.namenode.rpc-address." + authority + "." + id
			a := s.Conf[key]
			if a == "" {
				return nil, fmt.Errorf("nameservice %s: %s is not set in %s", authority, key, s.ConfDir)
			}
			addrs = append(addrs, a)
		}
		return addrs, nil
	}
	if a := s.Conf["dfs.namenode.rpc-address."+authority]; a != "" {
		return []string{a}, nil
	}
	if slices.Contains(strings.Split(s.Conf["dfs.nameservices"], ","), authority) {
		return nil, fmt.Errorf("nameservice %s: dfs.ha.namenodes.%s is not set in %s", authority, authority, s.ConfDir)
	}
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		host, port = authority, DefaultPort
	}
	if host == "" {
		return nil, fmt.Errorf("no NameNode host in %q", authority)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("port %q of %q is not a TCP port", port, authority)
	}
	return []string{net.JoinHostPort(host, port)}, nil
}
