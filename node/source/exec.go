package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// Attributes of exec events, as classic's ExecNioSource set them.
const (
	// AttrProcSource names the stream a line came from: ProcStdout or ProcStderr.
	AttrProcSource = "procsource"
	// AttrExecCmd is the command line as written in the spec.
	AttrExecCmd = "execcmd"
	// AttrService is "exec"; the syslog output format prints it as the service.
	AttrService = "service"
)

// Values of AttrProcSource, spelled as classic spelled them.
const (
	ProcStdout = "STDOUT"
	ProcStderr = "STDERR"
)

var (
	execSig = spec.Signature{Name: "exec", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		{Name: "aggregate", Kind: spec.ParamBool, Default: "false"},
		{Name: "restart", Kind: spec.ParamBool, Default: "false"},
		{Name: "period", Kind: spec.ParamDuration, Default: "0"},
		record.OversizeParam,
	}}
	execStreamSig = spec.Signature{Name: "execStream", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		record.OversizeParam,
	}}
	execPeriodicSig = spec.Signature{Name: "execPeriodic", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		{Name: "period", Kind: spec.ParamDuration, Required: true},
		record.OversizeParam,
	}}
)

// execSource is `exec("cmd"[, aggregate[, restart[, period]]])`: it runs cmd without a shell
// and makes events of what it writes on stdout and stderr, one per line, or with aggregate one
// per stream per run holding the whole output. With restart it runs cmd again period after
// each run ends; without, the source ends when the command's output does.
//
// The command runs in a process group of its own. Close terminates the group (SIGTERM, then
// SIGKILL after a grace period, which also takes children that outlive the command), closes
// the pipes and reaps the command: no process, zombie or goroutine is left behind. What the
// command wrote until then is read (up to drainGrace and holdLimit per stream) and returned by
// the calls to Next that follow Close, before io.EOF.
type execSource struct {
	cmdline   string
	argv      []string
	aggregate bool
	restart   bool
	period    time.Duration
	max       int
	policy    event.OversizePolicy
	ctr       record.Counters
	log       *slog.Logger
	attrCmd   []byte

	path   string
	out    chan *event.Event // filled by the stream readers, closed when the runs are over
	batch  []*event.Event
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor
	closed bool

	mu     sync.Mutex
	held   []*event.Event // what the readers read but could not queue once stopping
	runErr error          // why the runs ended early (a restart that failed)
}

func buildExec(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newExec(bc, args, args.Bool("aggregate", false), args.Bool("restart", false),
		args.Duration("period", 0))
}

func buildExecStream(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newExec(bc, args, false, false, 0)
}

func buildExecPeriodic(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	return newExec(bc, args, true, true, args.Duration("period", 0))
}

func newExec(bc *plugin.BuildContext, args *spec.Args, aggregate, restart bool, period time.Duration) (plugin.Source, error) {
	cmdline := args.String("cmd", "")
	argv, err := splitCommand(cmdline)
	if err != nil {
		return nil, args.Errorf("cmd", "%v", err)
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	return &execSource{
		cmdline:   cmdline,
		argv:      argv,
		aggregate: aggregate,
		restart:   restart,
		period:    period,
		max:       bc.MaxEventSize(),
		policy:    policy,
		ctr:       record.NewCounters(bc.Counters().Sub(args.Name())),
		log:       bc.Log(),
		attrCmd:   []byte(cmdline),
	}, nil
}

// Open starts the command. A command that cannot be found or started is an error naming it.
func (s *execSource) Open(context.Context) error {
	if s.closed {
		return ErrClosed
	}
	if s.out != nil {
		return nil
	}
	path, err := exec.LookPath(s.argv[0])
	if err != nil {
		return fmt.Errorf("exec %q: %w", s.argv[0], err)
	}
	s.path = path
	p, err := s.start()
	if err != nil {
		return fmt.Errorf("exec %q: %w", s.cmdline, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.out = make(chan *event.Event, record.MaxBatch)
	s.batch = make([]*event.Event, 0, record.MaxBatch)
	s.wg.Add(1)
	go s.supervise(ctx, p)
	return nil
}

// Next returns what the command has written, waiting for at least one event. Once the runs are
// over (the command ended, or Close stopped it) it returns what is queued, then what the
// readers held back, then io.EOF (or why a restart failed).
func (s *execSource) Next(ctx context.Context) ([]*event.Event, error) {
	if s.out == nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err // what is queued stays queued
	}
	s.batch = s.batch[:0]
	select {
	case e, ok := <-s.out:
		if !ok {
			return s.takeHeld()
		}
		s.batch = append(s.batch, e)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
more:
	for len(s.batch) < record.MaxBatch {
		select {
		case e, ok := <-s.out:
			if !ok {
				break more
			}
			s.batch = append(s.batch, e)
		default:
			break more
		}
	}
	s.ctr.Add(s.batch)
	return s.batch, nil
}

// hold keeps events a stream reader could not queue because the source was stopping.
func (s *execSource) hold(evs []*event.Event) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	s.held = append(s.held, evs...)
	s.mu.Unlock()
}

// takeHeld returns the next batch of held events, or the error that ends the source.
func (s *execSource) takeHeld() ([]*event.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := record.TakeHeld(&s.held)
	if b == nil {
		if s.runErr != nil {
			return nil, s.runErr
		}
		return nil, io.EOF
	}
	s.ctr.Add(b)
	return b, nil
}

// Close terminates the command and its process group and waits until all is reaped and what
// the command wrote is read. Next then returns what is left.
func (s *execSource) Close(context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	return nil
}
