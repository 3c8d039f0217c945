package conf_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flumego/flume/conf"
)

// FuzzLoadXML checks that no file makes the loader panic, that every error is positioned and
// wraps ErrMalformed, that a file with an error sets nothing, and that whatever loads can be
// validated and mapped.
func FuzzLoadXML(f *testing.F) {
	sample, err := os.ReadFile(filepath.Join("..", "deploy", conf.FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte(site(conf.TailPollPeriod, "5s", "x", "${x}", conf.MasterServers, "[::1]:5,a")))
	f.Add([]byte("<configuration><property><name>a</name><value>1</vale></property></configuration>"))
	f.Add([]byte("<configuration><property><name>a</name></property><foo/></configuration>"))
	f.Add([]byte(""))
	defaults := conf.New().Map()
	f.Fuzz(func(t *testing.T, data []byte) {
		c := conf.New()
		if err := c.LoadXML("f.xml", data); err != nil {
			if !errors.Is(err, conf.ErrMalformed) || !strings.HasPrefix(err.Error(), "f.xml:") {
				t.Fatalf("error not positioned or not ErrMalformed: %v", err)
			}
			if !maps.Equal(c.Map(), defaults) {
				t.Fatal("a file with an error set properties")
			}
			return
		}
		_, _ = c.Validate()
		_ = c.Map()
	})
}
