package store

import (
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// DefaultMaxOpen is the bound on open bucket files when Options.MaxOpen is 0.
const DefaultMaxOpen = 256

// Some compression names for Options.Compress; any name of package internal/hadoop/codec
// works ("GzipCodec", "BZip2Codec", "snappy", ...).
const (
	CompressNone = ""
	CompressGzip = "gzip"
	CompressZstd = "zstd"
)

// Options configure a Writer, and tell Recover which files a Writer with the same options
// would have made.
type Options struct {
	// Path is the directory template and file prefix, e.g.
	// "file:///data/%Y-%m-%d/%H00/web-" or "/data/%{host}/log-". Escapes (REFERENCE.md §4)
	// expand against each event; the expansions of event data (%{host}, %{attr}, %{body}, ...)
	// are sanitized so that no event can name a file outside the root (the directory of the
	// text before the first escape), and cut so that every name is valid UTF-8 and no
	// component is longer than 255 bytes (see the package documentation). Path itself must be
	// valid UTF-8. Scheme file:// (or none) is the local file system; hdfs:// is refused
	// unless FS is set.
	Path string
	// Exact makes the expanded Path the whole file name: no roll tag and no unique part. The
	// dfs sinks use it. A name already taken gets ".1", ".2", ... so nothing is replaced.
	Exact bool
	// Suffix is appended after the unique part of the name (and before the compression
	// extension).
	Suffix string
	// Format is the output format; nil writes each body and a newline (raw).
	Format plugin.Format
	// Compress names a Hadoop compression codec (package internal/hadoop/codec: GzipCodec,
	// DefaultCodec, BZip2Codec, ZStandardCodec, SnappyCodec, or their short names), or none.
	// Every Write ends a unit of the codec (a gzip member, a zlib or bzip2 stream, a zstd
	// frame, a Snappy block), so a file truncated at a span boundary stays valid. The file name
	// gets the codec's Hadoop extension (".gz", ".deflate", ".bz2", ".zst", ".snappy").
	Compress string
	// MaxOpen bounds the open bucket files (DefaultMaxOpen when 0). Opening one more
	// finalizes the least recently written bucket that the current Write has not touched.
	MaxOpen int
	// IdleAfter is how long a bucket may go unwritten before CloseIdle or Tidy finalizes it;
	// 0 never.
	IdleAfter time.Duration
	// RollBytes, when positive, ends a file once it holds that many bytes: the Write that
	// reaches it seals the file (the bucket's next event opens a new one), and Tidy or Roll
	// finalizes it.
	RollBytes int64
	// Owner names who writes (a collector sink's identity): it is marked in the names of the
	// files (naming.go), so that Recover tells its own leftovers from other writers' in a
	// directory several write to. Empty: unmarked names.
	Owner string
	// ManualSettle leaves what a Write writes unsettled until the owner calls Settle with its
	// spans (it has committed them): until then the file is not finalized. Without it, every
	// Write settles what it wrote.
	ManualSettle bool
	// Location is the zone of date escapes and of the roll tag; nil is time.Local.
	Location *time.Location
	// Now is the clock for roll tags and idle times; nil is time.Now.
	Now func() time.Time
	// FS is the backend; nil picks one from the scheme of Path.
	FS FS
	// Logger and Metrics receive what the Writer does; either may be nil. Counters:
	// events_written, bytes_written, files_opened, files_finalized, files_truncated,
	// files_rolled_by_size, cuts_deferred, write_errors; gauge buckets_open.
	Logger  *slog.Logger
	Metrics *metrics.Registry
}

// layout is what Options.Path and the naming options mean once parsed.
type layout struct {
	fs    FS
	root  string        // directory every file lives under, cleaned
	tpl   *pathTemplate // the part of Path after root
	ext   string        // Suffix + compression extension
	codec codec.Codec   // nil: none
	loc   *time.Location
}

// parse checks o and works out its layout without touching storage.
func (o *Options) parse() (*layout, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadPath)
	}
	scheme, p := splitScheme(o.Path)
	fsys := o.FS
	switch {
	case scheme == "hdfs" && fsys != nil:
		// The authority names the cluster, which FS reaches: the rest is the path.
		p = p[strings.IndexByte(p+"/", '/'):]
		if p == "" {
			p = "/"
		}
	case fsys != nil:
	case scheme == "" || scheme == "file":
		fsys = LocalFS{}
	case scheme == "hdfs":
		return nil, fmt.Errorf("%q: %w", o.Path, ErrHDFS)
	default:
		return nil, fmt.Errorf("%q: %w %q", o.Path, ErrScheme, scheme+"://")
	}
	if scheme == "file" && !strings.HasPrefix(p, "/") {
		// Classic's default "file://tmp/..." meant /tmp/...: a URL authority is not a path.
		p = "/" + p
	}
	if strings.ContainsRune(p, 0) {
		return nil, fmt.Errorf("%w: NUL in %q", ErrBadPath, o.Path)
	}
	if !utf8.ValidString(o.Path) || !utf8.ValidString(o.Suffix) {
		// Names are text where they are recorded (the commit point's file lengths).
		return nil, fmt.Errorf("%w: %q is not valid UTF-8", ErrBadPath, o.Path+o.Suffix)
	}
	l := &layout{fs: fsys, loc: o.Location}
	if l.loc == nil {
		l.loc = time.Local
	}
	segs := parseSegments(p, l.loc)
	root, rest := splitRoot(segs)
	l.root = root
	tpl, err := newPathTemplate(rest, o.Exact)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", o.Path, err)
	}
	l.tpl = tpl
	c, err := codec.Lookup(o.Compress)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompress, err)
	}
	l.codec, l.ext = c, o.Suffix
	if c != nil {
		l.ext += c.Ext()
	}
	tpl.setExt(l.ext)
	if strings.ContainsAny(o.Suffix, "/\\\x00") {
		return nil, fmt.Errorf("%w: suffix %q holds a separator", ErrBadPath, o.Suffix)
	}
	if o.MaxOpen < 0 {
		return nil, fmt.Errorf("%w: max open %d", ErrBadOption, o.MaxOpen)
	}
	if o.IdleAfter < 0 {
		return nil, fmt.Errorf("%w: idle after %v", ErrBadOption, o.IdleAfter)
	}
	if o.RollBytes < 0 {
		return nil, fmt.Errorf("%w: roll bytes %d", ErrBadOption, o.RollBytes)
	}
	return l, nil
}

// Validate checks o as Open would, without touching storage: builders call it.
func (o Options) Validate() error {
	_, err := o.parse()
	return err
}

// Root returns the directory every file of o lives under, as Open and Recover use it.
func (o Options) Root() (string, error) {
	l, err := o.parse()
	if err != nil {
		return "", err
	}
	return l.root, nil
}

// splitScheme splits "scheme://rest" into its lower-case scheme and rest; a path without a
// scheme comes back whole.
func splitScheme(p string) (scheme, rest string) {
	i := strings.Index(p, "://")
	if i <= 0 {
		return "", p
	}
	for j := 0; j < i; j++ {
		c := p[j]
		letter := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (j == 0 || !(('0' <= c && c <= '9') || c == '+' || c == '-' || c == '.')) {
			return "", p
		}
	}
	return strings.ToLower(p[:i]), p[i+3:]
}

// splitRoot cuts the literal text before the first escape at its last slash: what is before
// is the root directory, what is after starts the template of names under it.
func splitRoot(segs []segment) (string, []segment) {
	if len(segs) == 0 || segs[0].esc != nil {
		return ".", segs
	}
	lit := segs[0].lit
	i := strings.LastIndexByte(lit, '/')
	if i < 0 {
		return ".", segs
	}
	root := path.Clean(lit[:i+1])
	rest := append([]segment(nil), segs...)
	if i+1 == len(lit) {
		rest = rest[1:]
	} else {
		rest[0].lit = lit[i+1:]
	}
	return root, rest
}

// options normalized with their defaults.
func (o *Options) maxOpen() int {
	if o.MaxOpen == 0 {
		return DefaultMaxOpen
	}
	return o.MaxOpen
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Options) counters() *metrics.Registry {
	if o.Metrics == nil {
		return metrics.NewRegistry()
	}
	return o.Metrics
}
