package source

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// seedParam seeds a synthetic source. Classic seeded from the clock; a fixed default makes a
// run repeatable and lets tests check the bytes. Open restarts the sequence, as classic did.
var seedParam = spec.Param{Name: "seed", Kind: spec.ParamInt, KeywordOnly: true, Default: "0"}

var (
	synthSig = spec.Signature{Name: "synth", Params: []spec.Param{
		{Name: "count", Kind: spec.ParamInt, Default: "0"},
		{Name: "size", Kind: spec.ParamInt, Default: "150"},
		seedParam,
	}}
	synthRndSizeSig = spec.Signature{Name: "synthrndsize", Params: []spec.Param{
		{Name: "count", Kind: spec.ParamInt, Required: true},
		{Name: "minsize", Kind: spec.ParamInt, Required: true},
		{Name: "maxsize", Kind: spec.ParamInt, Required: true},
		seedParam,
	}}
	nonlSynthSig  = spec.Signature{Name: "nonlsynth", Params: synthSig.Params}
	asciiSynthSig = spec.Signature{Name: "asciisynth", Params: synthSig.Params}
)

// synthKind is what a synthetic source does to its random bytes.
type synthKind int

const (
	synthRaw   synthKind = iota // any byte
	synthNoNL                   // '\n' becomes ' '
	synthASCII                  // printable ASCII: the low 7 bits, controls and DEL become ' '
)

// maxBatchBytes bounds the memory of one batch of large synthetic events.
const maxBatchBytes = 4 << 20

// asciiTable maps a byte to printable ASCII as classic's NoNlASCIISynthSource.toAscii did.
var asciiTable = func() (t [256]byte) {
	for i := range t {
		b := byte(i) & 0x7f
		if b < 32 || b == 127 {
			b = ' '
		}
		t[i] = b
	}
	return t
}()

// synthSource generates count events (0: endless) of random bodies. Fixed-size sources fill
// one region of batch*size bytes per Next and slice the bodies out of it; nothing is allocated
// per event.
type synthSource struct {
	name     string
	kind     synthKind
	count    int64
	min, max int // body size range: [min, max), or exactly min when max <= min
	seed     uint64
	limit    int
	policy   event.OversizePolicy
	host     string
	ctr      record.Counters

	rng      *rand.ChaCha8
	sizes    *rand.Rand
	produced int64
	region   []byte
	batch    *record.Batch
}

func buildSynth(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newSynth(bc, args, synthRaw)
}

func buildNonlSynth(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newSynth(bc, args, synthNoNL)
}

func buildASCIISynth(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newSynth(bc, args, synthASCII)
}

func newSynth(bc *plugin.BuildContext, args *spec.Args, kind synthKind) (plugin.Source, error) {
	size, err := sizeArg(args, "size", 150)
	if err != nil {
		return nil, err
	}
	return synthFrom(bc, args, kind, size, size)
}

func buildSynthRndSize(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	lo, err := sizeArg(args, "minsize", 0)
	if err != nil {
		return nil, err
	}
	hi, err := sizeArg(args, "maxsize", 0)
	if err != nil {
		return nil, err
	}
	if hi < lo {
		return nil, args.Errorf("maxsize", "%d is less than minsize %d", hi, lo)
	}
	return synthFrom(bc, args, synthRaw, lo, hi)
}

func sizeArg(args *spec.Args, name string, def int64) (int, error) {
	n := args.Int(name, def)
	if n < 0 || n > event.MaxSizeLimit {
		return 0, args.Errorf(name, "want a size from 0 to %d, got %d", event.MaxSizeLimit, n)
	}
	return int(n), nil
}

func synthFrom(bc *plugin.BuildContext, args *spec.Args, kind synthKind, lo, hi int) (plugin.Source, error) {
	count := args.Int("count", 0)
	if count < 0 {
		return nil, args.Errorf("count", "want 0 (endless) or more, got %d", count)
	}
	return &synthSource{
		name:   args.Name(),
		kind:   kind,
		count:  count,
		min:    lo,
		max:    hi,
		seed:   uint64(args.Int("seed", 0)),
		limit:  bc.MaxEventSize(),
		policy: event.Truncate,
		host:   event.Hostname(),
		ctr:    record.NewCounters(bc.Counters().Sub(args.Name())),
	}, nil
}

// Open restarts the sequence from the seed.
func (s *synthSource) Open(context.Context) error {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], s.seed)
	s.rng = rand.NewChaCha8(seed)
	// Sizes come from a generator of their own: interleaving ChaCha8's Read and Uint64 leaves
	// the order of bits unspecified.
	s.sizes = rand.New(rand.NewPCG(s.seed, s.seed^0x9e3779b97f4a7c15))
	s.produced = 0
	largest := max(s.min, s.max, 1)
	n := min(record.MaxBatch, max(1, maxBatchBytes/largest))
	s.region = make([]byte, n*max(s.min, s.max))
	s.batch = record.NewBatch(n, s.host)
	return nil
}

// Next returns the next batch, or io.EOF after count events.
func (s *synthSource) Next(ctx context.Context) ([]*event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.batch == nil {
		return nil, ErrClosed
	}
	n := int64(s.batch.Cap())
	if s.count > 0 {
		n = min(n, s.count-s.produced)
		if n <= 0 {
			return nil, io.EOF
		}
	}
	now := time.Now().UnixNano()
	b := s.batch
	b.Reset()
	used := 0
	for range n {
		size := s.min
		if s.max > s.min {
			size += s.sizes.IntN(s.max - s.min)
		}
		body := s.region[used : used+size : used+size]
		used += size
		if size > s.limit {
			body = body[:s.limit:s.limit]
			s.ctr.Truncated.Inc()
		}
		b.Add(body, now)
	}
	s.fill(s.region[:used])
	s.produced += n
	s.ctr.Count(b, nil)
	return b.Events(), nil
}

// fill writes the random content of a batch.
func (s *synthSource) fill(p []byte) {
	_, _ = s.rng.Read(p) // ChaCha8.Read never fails
	switch s.kind {
	case synthNoNL:
		for i, c := range p {
			if c == '\n' {
				p[i] = ' '
			}
		}
	case synthASCII:
		t := &asciiTable
		for i, c := range p {
			p[i] = t[c]
		}
	}
}

// Close releases the buffers.
func (s *synthSource) Close(context.Context) error {
	s.region, s.batch = nil, nil
	return nil
}
