package conf_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flumego/flume/conf"
)

// confDir writes body as flume-site.xml in a new directory and returns the directory and the
// file's path.
func confDir(t testing.TB, body string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, conf.FileName)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// site returns a configuration file setting name, value pairs, one property per 4 lines:
// the first <name> is on line 4 and its <value> on line 5, the next on lines 8 and 9, ...
func site(pairs ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("  <property>\n    <name>" + pairs[i] + "</name>\n    <value>" + pairs[i+1] +
			"</value>\n  </property>\n")
	}
	b.WriteString("</configuration>\n")
	return b.String()
}

// noEnv is a Getenv that finds nothing, so tests do not depend on the environment.
func noEnv(string) string { return "" }

// mustLoad loads and validates, failing the test on an error.
func mustLoad(t testing.TB, opts conf.Options) (*conf.Config, []string) {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	c, err := conf.Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ws, err := c.Validate()
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return c, warningStrings(ws)
}

func warningStrings(ws []conf.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

func TestLoadReadsFileWithOrigins(t *testing.T) {
	dir, path := confDir(t, site(
		conf.EventMaxSize, " 1000 ",
		conf.MasterServers, "m1, m2,m3",
		conf.CollectorRollMillis, "2m",
	))
	c, ws := mustLoad(t, conf.Options{ConfDir: dir})
	if len(ws) != 0 {
		t.Fatalf("warnings: %q", ws)
	}
	if got := c.Int(conf.EventMaxSize); got != 1000 {
		t.Errorf("event max size = %d, want 1000", got)
	}
	if got := strings.Join(c.List(conf.MasterServers), " "); got != "m1 m2 m3" {
		t.Errorf("servers = %q", got)
	}
	if got := c.Duration(conf.CollectorRollMillis).String(); got != "2m0s" {
		t.Errorf("roll = %s", got)
	}
	if got := c.Origin(conf.MasterServers).String(); got != path+":9" {
		t.Errorf("origin of servers = %s, want %s:9", got, path)
	}
	if got := c.Origin(conf.TailPollPeriod).String(); got != "default" {
		t.Errorf("origin of an unset property = %s", got)
	}
}

func TestLoadConfDirSources(t *testing.T) {
	dir, _ := confDir(t, site(conf.TailPollPeriod, "250"))
	empty := t.TempDir() // a directory without flume-site.xml is fine
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == conf.EnvConfDir {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name string
		opts conf.Options
		want int64
	}{
		{"flag", conf.Options{ConfDir: dir, Getenv: noEnv}, 250},
		{"environment", conf.Options{Getenv: env(dir)}, 250},
		{"flag over environment", conf.Options{ConfDir: empty, Getenv: env(dir)}, 1000},
		{"directory without file", conf.Options{ConfDir: empty, Getenv: noEnv}, 1000},
		{"no directory at all", conf.Options{Getenv: noEnv}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustLoad(t, tt.opts)
			if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != tt.want {
				t.Fatalf("poll period = %d ms, want %d", got, tt.want)
			}
		})
	}
}

func TestLoadMissingExplicitDirIsError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	file, _ := confDir(t, site())
	file = filepath.Join(file, conf.FileName)
	tests := []struct {
		name string
		opts conf.Options
		want string
	}{
		{"flag", conf.Options{ConfDir: missing, Getenv: noEnv}, `--conf "` + missing + `": configuration directory not found`},
		{"environment", conf.Options{Getenv: func(string) string { return missing }},
			`$FLUME_CONF_DIR "` + missing + `": configuration directory not found`},
		{"a file, not a directory", conf.Options{ConfDir: file, Getenv: noEnv},
			`--conf "` + file + `": configuration directory not found: not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conf.Load(tt.opts)
			if !errors.Is(err, conf.ErrNoConfDir) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting %q", err, tt.want)
			}
		})
	}
}

func TestLoadMalformedXMLGivesFileAndLine(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unclosed element", "<configuration>\n<property>\n<name>a</name>\n<value>1</vale>\n</property>\n</configuration>\n",
			":4: malformed configuration file: element <value> closed by </vale>"},
		{"wrong root", "<?xml version=\"1.0\"?>\n<config>\n</config>\n",
			":2: malformed configuration file: root element is <config>, want <configuration>"},
		{"empty file", "", ":1: malformed configuration file: no <configuration> element"},
		{"truncated", "<configuration>\n<property>\n<name>a</name>\n",
			":4: malformed configuration file: unexpected EOF"},
		{"no name", "<configuration>\n  <property>\n    <value>1</value>\n  </property>\n</configuration>\n",
			":2: malformed configuration file: <property> without a <name>"},
		{"no value", "<configuration>\n  <property>\n    <name>flume.tail.pollperiod</name>\n  </property>\n</configuration>\n",
			":3: malformed configuration file: property flume.tail.pollperiod has no <value>"},
		{"element in a value", "<configuration>\n<property><name>a</name>\n<value><b>1</b></value></property>\n</configuration>\n",
			":3: malformed configuration file: unexpected element <b> in a name or value"},
		{"content after the root", "<configuration>\n</configuration>\n<configuration/>\n",
			":3: malformed configuration file: element <configuration> after </configuration>"},
		{"bad entity", "<configuration>\n<property><name>a</name><value>&nbsp;</value></property>\n</configuration>\n",
			":2: malformed configuration file: invalid character entity &nbsp;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := confDir(t, tt.body)
			_, err := conf.Load(conf.Options{ConfDir: dir, Getenv: noEnv})
			if !errors.Is(err, conf.ErrMalformed) || err.Error() != path+tt.want {
				t.Fatalf("error:\n%v\nwant:\n%s%s", err, path, tt.want)
			}
		})
	}
}

func TestLoadToleratesHadoopExtras(t *testing.T) {
	body := `<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<!-- a comment -->
<configuration>
  <property>
    <name>flume.tail.pollperiod</name>
    <value><![CDATA[300]]></value>
    <description>poll
    often</description>
    <final>true</final>
  </property>
  <property><name>flume.node.close.timeout</name><value/></property>
  <include href="other.xml"/>
</configuration>
`
	dir, path := confDir(t, body)
	c, err := conf.Load(conf.Options{ConfDir: dir, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := c.Validate()
	// An empty <value/> is a value: the empty string, which is no duration.
	wantErr := path + `:12: property flume.node.close.timeout: "" is not a duration: want milliseconds (30000) or a number with a unit (30s)`
	if err == nil || err.Error() != wantErr {
		t.Fatalf("error:\n%v\nwant:\n%s", err, wantErr)
	}
	if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != 300 {
		t.Errorf("CDATA value read as %d ms", got)
	}
	want := path + ":13: unexpected element <include> in <configuration>, skipped"
	if got := warningStrings(ws); len(got) != 1 || got[0] != want {
		t.Errorf("warnings %q, want [%q]", got, want)
	}
}

func TestLoadDuplicateInFileLaterWins(t *testing.T) {
	dir, path := confDir(t, site(
		conf.TailPollPeriod, "100",
		conf.EventMaxSize, "10",
		conf.TailPollPeriod, "200",
		"flume.collector.port", "4000",
		conf.CollectorPort, "5000",
	))
	c, ws := mustLoad(t, conf.Options{ConfDir: dir})
	if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != 200 {
		t.Errorf("poll period = %d, want the later 200", got)
	}
	if got := c.Int(conf.CollectorPort); got != 5000 {
		t.Errorf("collector port = %d, want the later 5000", got)
	}
	want := []string{
		path + ":12: property flume.tail.pollperiod is set twice in this file, on lines 4 and 12; line 12 wins",
		path + ":20: property flume.collector.event.port (as flume.collector.port on line 16) is set twice in this file, on lines 16 and 20; line 20 wins",
	}
	if strings.Join(ws, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(ws, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadDefines(t *testing.T) {
	tests := []struct {
		name    string
		defines []string
		wantErr string
		wantMS  int64
	}{
		{"set", []string{"flume.tail.pollperiod=5"}, "", 5},
		{"later wins", []string{"flume.tail.pollperiod=5", "flume.tail.pollperiod = 7 "}, "", 7},
		{"value with =", []string{"x.y=a=b", "flume.tail.pollperiod=9"}, "", 9},
		{"no =", []string{"novalue"}, `-D "novalue": bad -D setting: want name=value`, 0},
		{"no name", []string{"=5"}, `-D "=5": bad -D setting: want name=value`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := conf.Load(conf.Options{Defines: tt.defines, Getenv: noEnv})
			if tt.wantErr != "" {
				if !errors.Is(err, conf.ErrDefine) || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != tt.wantMS {
				t.Fatalf("poll period %d, want %d", got, tt.wantMS)
			}
			if got := c.Origin(conf.TailPollPeriod).String(); got != "-D" {
				t.Fatalf("origin %s, want -D", got)
			}
		})
	}
}

// TestPrecedenceFileDefineFlag checks that -D overrides the file and a flag overrides both,
// with the origin following the value.
func TestPrecedenceFileDefineFlag(t *testing.T) {
	dir, path := confDir(t, site(conf.TailPollPeriod, "100", conf.EventMaxSize, "100", conf.NodeDataDir, "/file"))
	tests := []struct {
		name       string
		defines    []string
		flag       string // value of --data-dir, "" for none
		wantPoll   int64
		wantSize   int64
		wantDir    string
		wantOrigin string // of the data dir
	}{
		{"file only", nil, "", 100, 100, "/file", path + ":13"},
		{"-D over file", []string{"flume.tail.pollperiod=200", "flume.node.data.dir=/define"}, "", 200, 100, "/define", "-D"},
		{"flag over -D and file", []string{"flume.node.data.dir=/define"}, "/flag", 100, 100, "/flag", "flag --data-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := conf.Load(conf.Options{ConfDir: dir, Defines: tt.defines, Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			if tt.flag != "" {
				c.Set(conf.NodeDataDir, tt.flag, conf.Flag("data-dir"))
			}
			if _, err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != tt.wantPoll {
				t.Errorf("poll = %d, want %d", got, tt.wantPoll)
			}
			if got := c.Int(conf.EventMaxSize); got != tt.wantSize {
				t.Errorf("size = %d, want %d", got, tt.wantSize)
			}
			if got := c.String(conf.NodeDataDir); got != tt.wantDir {
				t.Errorf("data dir = %q, want %q", got, tt.wantDir)
			}
			if got := c.String(conf.AgentLogDir); got != tt.wantDir+"/agent" {
				t.Errorf("agent logdir = %q, want it under the data dir %q", got, tt.wantDir)
			}
			if got := c.Origin(conf.NodeDataDir).String(); got != tt.wantOrigin {
				t.Errorf("origin = %s, want %s", got, tt.wantOrigin)
			}
		})
	}
}

// TestSampleSiteFileLoadsClean checks deploy/flume-site.xml: it loads with no warning, and
// every value it shows is the default, so the sample never lies about the defaults.
func TestSampleSiteFileLoadsClean(t *testing.T) {
	dir := filepath.Join("..", "deploy")
	c, ws := mustLoad(t, conf.Options{ConfDir: dir})
	if len(ws) != 0 {
		t.Fatalf("warnings:\n%s", strings.Join(ws, "\n"))
	}
	n := 0
	for _, p := range conf.Catalog() {
		if !c.IsSet(p.Name) {
			continue
		}
		n++
		if got, want := c.String(p.Name), conf.New().String(p.Name); got != want {
			t.Errorf("%s: sample shows %q, default is %q", p.Name, got, want)
		}
	}
	if n < 20 {
		t.Errorf("sample sets only %d properties", n)
	}
}
