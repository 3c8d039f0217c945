package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
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

// DefaultRestartThrottle is the default of restartThrottle: the least time from one start of a
// restarted command to the next when its runs fail or no period paces them.
const DefaultRestartThrottle = time.Second

// Keyword parameters the exec sources share.
var (
	// shellParam runs cmd through a shell: shell=true takes the system shell (/bin/sh -c),
	// shell="/bin/bash -c" names one. The default, false, runs cmd without a shell.
	shellParam = spec.Param{Name: "shell", Kind: spec.ParamString, KeywordOnly: true, Default: "false"}
	// throttleParam bounds how fast a restarting command is started again (see restartDelay).
	throttleParam = spec.Param{Name: "restartThrottle", Kind: spec.ParamDuration, KeywordOnly: true,
		Default: strconv.FormatInt(DefaultRestartThrottle.Milliseconds(), 10)}
)

var (
	execSig = spec.Signature{Name: "exec", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		{Name: "aggregate", Kind: spec.ParamBool, Default: "false"},
		{Name: "restart", Kind: spec.ParamBool, Default: "false"},
		{Name: "period", Kind: spec.ParamDuration, Default: "0"},
		shellParam,
		throttleParam,
		record.OversizeParam,
	}}
	execStreamSig = spec.Signature{Name: "execStream", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		shellParam,
		record.OversizeParam,
	}}
	execPeriodicSig = spec.Signature{Name: "execPeriodic", Params: []spec.Param{
		{Name: "cmd", Kind: spec.ParamString, Required: true},
		{Name: "period", Kind: spec.ParamDuration, Required: true},
		shellParam,
		throttleParam,
		record.OversizeParam,
	}}
)

// execSource is `exec("cmd"[, aggregate[, restart[, period]]])`: it runs cmd and makes events
// of what it writes on stdout and stderr, one per line, or with aggregate one per stream per
// run holding the whole output, each tagged with the stream it came from (procsource). With
// restart it runs cmd again period after each run ends; without, the source ends when the
// command's output does.
//
// cmd runs without a shell, as classic's Runtime.exec ran it: it is split into words (see
// splitCommand) and its first word is looked up in $PATH; pipes, redirections, variables and
// globs mean nothing. shell=true hands the whole of cmd to /bin/sh -c instead, and
// shell="/bin/bash -c" to the shell given. A command that cannot be found is an error of Open
// naming it; under a shell it is the shell that reports it (exit status 127, its message on
// stderr), and the log says so.
//
// A restarting command is throttled: restartDelay keeps a command that fails at once, or one
// restarted without a period, from being started in a tight loop.
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
	throttle  time.Duration
	shell     bool // argv is a shell and its options, with cmdline last
	max       int
	policy    event.OversizePolicy
	ctr       record.Counters
	runs      *metrics.Counter // starts of the command
	failures  *metrics.Counter // runs that ended with a non-zero status or a signal
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
	argv, shell, err := commandArgv(args, cmdline)
	if err != nil {
		return nil, err
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	m := bc.Counters().Sub(args.Name())
	return &execSource{
		cmdline:   cmdline,
		argv:      argv,
		aggregate: aggregate,
		restart:   restart,
		period:    period,
		throttle:  args.Duration(throttleParam.Name, DefaultRestartThrottle),
		shell:     shell,
		max:       bc.MaxEventSize(),
		policy:    policy,
		ctr:       record.NewCounters(m),
		runs:      m.Counter("runs"),
		failures:  m.Counter("run_failures"),
		log:       bc.Log(),
		attrCmd:   []byte(cmdline),
	}, nil
}

// commandArgv returns the argv that runs cmdline: its words, or with the shell keyword the
// shell's words followed by cmdline as one argument. shell reports the latter.
func commandArgv(args *spec.Args, cmdline string) (argv []string, shell bool, err error) {
	sh, shell := shellOf(args)
	if !shell {
		argv, err := splitCommand(cmdline)
		if err != nil {
			return nil, false, args.Errorf("cmd", "%v", err)
		}
		return argv, false, nil
	}
	if strings.TrimSpace(cmdline) == "" {
		return nil, false, args.Errorf("cmd", "%v", errEmptyCommand)
	}
	shArgv, err := splitCommand(sh)
	if err != nil {
		return nil, false, args.Errorf(shellParam.Name, "%v", err)
	}
	return append(shArgv, cmdline), true, nil
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
		// exec.Error repeats the name ("exec: \"x\": executable file not found in $PATH"):
		// keep the reason only, which wraps exec.ErrNotFound or the system error.
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
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
