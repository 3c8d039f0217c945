package hdfs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/colinmarc/hdfs/v2/hadoopconf"
)

func props(m map[string]string) func(string, string) string {
	return func(name, def string) string {
		if v, ok := m[name]; ok {
			return v
		}
		return def
	}
}

// writeConf writes a core-site.xml and an hdfs-site.xml into a new directory.
func writeConf(t *testing.T, core, hdfsSite map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, m := range map[string]map[string]string{"core-site.xml": core, "hdfs-site.xml": hdfsSite} {
		var b strings.Builder
		b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
		for k, v := range m {
			b.WriteString("  <property><name>" + k + "</name><value>" + v + "</value></property>\n")
		}
		b.WriteString("</configuration>\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolve(t *testing.T) {
	conf := hadoopconf.HadoopConf{
		"fs.defaultFS":                         "hdfs://prod",
		"dfs.nameservices":                     "prod,broken",
		"dfs.ha.namenodes.prod":                "nn1, nn2",
		"dfs.namenode.rpc-address.prod.nn1":    "nn1.example:8020",
		"dfs.namenode.rpc-address.prod.nn2":    "nn2.example:8020",
		"dfs.namenode.rpc-address.single":      "single.example:9000",
		"dfs.ha.namenodes.half":                "a,b",
		"dfs.namenode.rpc-address.half.a":      "a.example:8020",
		"hadoop.security.authentication":       "simple",
		"dfs.namenode.kerberos.principal.none": "",
	}
	s := Settings{Conf: conf, ConfDir: "/etc/hadoop/conf", User: "flume"}
	tests := []struct {
		url       string
		addrs     []string
		user, pth string
	}{
		{"hdfs://namenode/flume/", []string{"namenode:8020"}, "flume", "/flume/"},
		{"hdfs://namenode:9000/flume/%Y", []string{"namenode:9000"}, "flume", "/flume/%Y"},
		{"hdfs://alice@namenode/flume", []string{"namenode:8020"}, "alice", "/flume"},
		{"HDFS://prod/a/b/../c/", []string{"nn1.example:8020", "nn2.example:8020"}, "flume", "/a/c/"},
		{"hdfs:///flume/x-", []string{"nn1.example:8020", "nn2.example:8020"}, "flume", "/flume/x-"},
		{"hdfs://single/x", []string{"single.example:9000"}, "flume", "/x"},
		{"hdfs://[::1]:8020/x", []string{"[::1]:8020"}, "flume", "/x"},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.url, s)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.url, err)
			continue
		}
		if !reflect.DeepEqual(got.Addresses, tt.addrs) || got.User != tt.user || got.Path != tt.pth {
			t.Errorf("Resolve(%q) = %+v, want addresses %v user %q path %q", tt.url, got, tt.addrs, tt.user, tt.pth)
		}
	}

	bad := []struct{ url, want string }{
		{"hdfs://half/x", "dfs.namenode.rpc-address.half.b is not set in /etc/hadoop/conf"},
		{"hdfs://broken/x", "nameservice broken: dfs.ha.namenodes.broken is not set"},
		{"hdfs://nn:http/x", `port "http" of "nn:http" is not a TCP port`},
		{"hdfs://@nn/x", "empty user before '@'"},
		{"file:///x", "is not an hdfs:// path"},
	}
	for _, tt := range bad {
		_, err := Resolve(tt.url, s)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("Resolve(%q) error %v, want one containing %q", tt.url, err, tt.want)
		}
	}
}

func TestResolveWithoutDefaultFS(t *testing.T) {
	_, err := Resolve("hdfs:///flume/", Settings{User: "flume"})
	want := `"hdfs:///flume/" names no NameNode, and fs.defaultFS is unset: no Hadoop configuration was found (set HADOOP_CONF_DIR or flume.hdfs.conf.dir)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to contain %q", err, want)
	}
	dir := writeConf(t, map[string]string{"hadoop.tmp.dir": "/tmp"}, nil)
	s, err := LoadSettings(props(map[string]string{PropConfDir: dir, PropUser: "flume"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve("hdfs:///flume/", s)
	want = "core-site.xml in " + dir + " does not set it"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to contain %q", err, want)
	}
}

func TestLoadSettings(t *testing.T) {
	dir := writeConf(t,
		map[string]string{"fs.defaultFS": "hdfs://nn.example:9000"},
		map[string]string{"dfs.replication": "2", "dfs.blocksize": "64m"})
	t.Setenv("HADOOP_CONF_DIR", dir)
	t.Setenv("HADOOP_USER_NAME", "hadoopuser")
	s, err := LoadSettings(props(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "hadoopuser" || s.Replication != 2 || s.BlockSize != 64<<20 || s.ClosePerCommit {
		t.Errorf("settings %+v: want user hadoopuser, replication 2, block size 64 MiB", s)
	}
	tg, err := Resolve("hdfs:///flume/", s)
	if err != nil || !reflect.DeepEqual(tg.Addresses, []string{"nn.example:9000"}) {
		t.Errorf("Resolve through fs.defaultFS: %+v, %v", tg, err)
	}
	s, err = LoadSettings(props(map[string]string{PropUser: "flume", PropReplication: "3", PropBlockSize: "1048576",
		PropClosePerCommit: "true"}))
	if err != nil || s.User != "flume" || s.Replication != 3 || s.BlockSize != 1<<20 || !s.ClosePerCommit {
		t.Errorf("properties over the Hadoop configuration: %+v, %v", s, err)
	}
	for _, tt := range []struct{ name, value, want string }{
		{PropReplication, "many", `property flume.hdfs.replication: "many" is not a whole number from 0 to 512`},
		{PropBlockSize, "-1", `property flume.hdfs.blocksize: "-1" is not a whole number`},
		{PropClosePerCommit, "sometimes", `property flume.hdfs.close.per.commit: "sometimes" is not true or false`},
	} {
		_, err := LoadSettings(props(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: error %v, want %q", tt.name, tt.value, err, tt.want)
		}
	}
}
