package hdfs

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/colinmarc/hdfs/v2"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// dialTimeout bounds a connection to a NameNode or DataNode.
const dialTimeout = 10 * time.Second

// shared is the one client of a process for one NameNode (or nameservice) and user. FS values
// hold it while their sinks are open; the last release closes it.
type shared struct {
	key  string
	opts hdfs.ClientOptions

	mu    sync.Mutex
	c     *hdfs.Client
	watch *watcher // the DataNode write connections of c; nil when they cannot be watched
	refs  int
}

var clients = struct {
	mu sync.Mutex
	m  map[string]*shared
}{m: map[string]*shared{}}

// sharedFor returns the shared client of t, to build on first use.
func sharedFor(t Target, s Settings) (*shared, error) {
	key := strings.Join(t.Addresses, ",") + "|" + t.User + "|" + s.Principal
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if sh := clients.m[key]; sh != nil {
		return sh, nil
	}
	opts := hdfs.ClientOptionsFromConf(s.Conf)
	opts.Addresses, opts.User = t.Addresses, t.User
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	opts.NamenodeDialFunc, opts.DatanodeDialFunc = d.DialContext, d.DialContext
	if opts.KerberosClient != nil || s.Principal != "" {
		kc, err := kerberos(s)
		if err != nil {
			return nil, err
		}
		opts.KerberosClient = kc
		if opts.KerberosServicePrincipleName == "" {
			return nil, fmt.Errorf("%w: Kerberos is on but dfs.namenode.kerberos.principal is not set in %s", ErrConfig, s.ConfDir)
		}
	}
	sh := &shared{key: key, opts: opts}
	clients.m[key] = sh
	return sh, nil
}

// kerberos logs in with the keytab of the settings, or from the credential cache.
func kerberos(s Settings) (*krbclient.Client, error) {
	confPath := os.Getenv("KRB5_CONFIG")
	if confPath == "" {
		confPath = "/etc/krb5.conf"
	}
	cfg, err := krbconfig.Load(confPath)
	if err != nil {
		return nil, fmt.Errorf("%w: Kerberos configuration %s: %v", ErrConfig, confPath, err)
	}
	if s.Keytab != "" && s.Principal != "" {
		name, realm, ok := strings.Cut(s.Principal, "@")
		if !ok || realm == "" {
			return nil, fmt.Errorf("%w: property %s: %q is not user@REALM", ErrConfig, PropPrincipal, s.Principal)
		}
		kt, err := keytab.Load(s.Keytab)
		if err != nil {
			return nil, fmt.Errorf("%w: property %s: keytab %s: %v", ErrConfig, PropKeytab, s.Keytab, err)
		}
		return krbclient.NewWithKeytab(name, realm, kt, cfg, krbclient.DisablePAFXFAST(true)), nil
	}
	cc := os.Getenv("KRB5CCNAME")
	cc = strings.TrimPrefix(cc, "FILE:")
	if cc == "" {
		cc = "/tmp/krb5cc_" + strconv.Itoa(os.Getuid())
	}
	ccache, err := credentials.LoadCCache(cc)
	if err != nil {
		return nil, fmt.Errorf("%w: Kerberos is on and neither %s with %s is set nor the credential cache %s is usable: %v",
			ErrConfig, PropPrincipal, PropKeytab, cc, err)
	}
	kc, err := krbclient.NewFromCCache(ccache, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("%w: credential cache %s: %v", ErrConfig, cc, err)
	}
	return kc, nil
}

// get returns the client, building it if there is none.
func (sh *shared) get() (*hdfs.Client, error) {
	c, _, err := sh.current()
	return c, err
}

// current returns the client and the watcher of its DataNode connections, building them if
// there are none. Connections protected by SASL (dfs.data.transfer.protection) cannot be
// watched: the watcher is nil.
func (sh *shared) current() (*hdfs.Client, *watcher, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.c != nil {
		return sh.c, sh.watch, nil
	}
	opts := sh.opts
	var wt *watcher
	if opts.DataTransferProtection == "" {
		wt = newWatcher()
		opts.DatanodeDialFunc = wt.dial(opts.DatanodeDialFunc)
	}
	c, err := hdfs.NewClient(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NameNode %s: %w", strings.Join(sh.opts.Addresses, ","), err)
	}
	sh.c, sh.watch = c, wt
	return c, wt, nil
}

// fail closes c if it is still the client: a file of it broke, and its lease must expire so
// that the file can be saved. Files still open on c fail at their next write, and are saved
// the same way.
func (sh *shared) fail(c *hdfs.Client) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.c == c && c != nil {
		c.Close()
		sh.c = nil
	}
}

// hold counts a user of the client; the returned func releases it, and the last release
// closes the client.
func (sh *shared) hold() func() {
	sh.mu.Lock()
	sh.refs++
	sh.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if sh.refs--; sh.refs == 0 && sh.c != nil {
				sh.c.Close()
				sh.c = nil
			}
		})
	}
}
