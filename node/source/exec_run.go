package source

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/source/internal/record"
)

// killGrace is how long a terminated command has to exit after SIGTERM before its process
// group gets SIGKILL.
const killGrace = time.Second

// aggregateChunk is the read size of aggregate mode.
const aggregateChunk = 32 << 10

// proc is one run of the command.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File // read ends of the pipes
}

// start runs the command once, in a process group of its own, with its output on two pipes.
// Its standard input is /dev/null.
func (s *execSource) start() (*proc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := &exec.Cmd{Path: s.path, Args: s.argv, Stdout: outW, Stderr: errW, SysProcAttr: sysProcAttr()}
	err = cmd.Start()
	// The child has its copies; ours must go so that the pipes end when the child's do.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	return &proc{cmd: cmd, stdout: outR, stderr: errR}, nil
}

// supervise runs the command until its runs are over or ctx ends, then closes s.out.
func (s *execSource) supervise(ctx context.Context, p *proc) {
	defer s.wg.Done()
	defer close(s.out)
	for {
		s.runOnce(ctx, p)
		if ctx.Err() != nil || !s.restart {
			return
		}
		t := time.NewTimer(s.period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if p, err = s.start(); err != nil {
			s.errMu.Lock()
			s.runErr = fmt.Errorf("exec %q: restart: %w", s.cmdline, err)
			s.errMu.Unlock()
			return
		}
	}
}

// runOnce reads the output of p until it ends and reaps p. When ctx ends first it terminates
// p's process group.
func (s *execSource) runOnce(ctx context.Context, p *proc) {
	var readers sync.WaitGroup
	readers.Add(2)
	go s.readStream(ctx, &readers, p.stdout, ProcStdout)
	go s.readStream(ctx, &readers, p.stderr, ProcStderr)
	readersDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readersDone)
	}()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()

	var err error
	select {
	case err = <-exited:
	case <-ctx.Done():
		err = terminate(p, exited)
	}
	// The output ends when the last holder of the pipes lets go: usually the command,
	// perhaps a child it left running.
	select {
	case <-readersDone:
	case <-ctx.Done():
		signalGroup(p.cmd.Process, sigKill)
		p.stdout.Close() // unblocks a reader whose pipe some escaped process still holds
		p.stderr.Close()
		<-readersDone
	}
	p.stdout.Close()
	p.stderr.Close()
	if err != nil && ctx.Err() == nil {
		s.log.Info("exec command ended", "cmd", s.cmdline, "err", err)
	}
}

// terminate stops p's process group: SIGTERM, then SIGKILL after killGrace. It returns the
// result of Wait.
func terminate(p *proc, exited <-chan error) error {
	signalGroup(p.cmd.Process, sigTerm)
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case err := <-exited:
		// Children that ignored SIGTERM go too: the group is what the flow owned.
		signalGroup(p.cmd.Process, sigKill)
		return err
	case <-t.C:
		signalGroup(p.cmd.Process, sigKill)
		return <-exited
	}
}

// readStream turns one output stream of the command into events.
func (s *execSource) readStream(ctx context.Context, done *sync.WaitGroup, f *os.File, tag string) {
	defer done.Done()
	attrTag := []byte(tag)
	emit := func(body []byte) bool {
		e := event.New(body)
		_ = e.SetAttr(AttrProcSource, attrTag)
		_ = e.SetAttr(AttrExecCmd, s.attrCmd)
		_ = e.SetAttr(AttrService, []byte("exec"))
		select {
		case s.out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if s.aggregate {
		s.readAggregate(f, emit)
		return
	}
	buf := record.NewBuffer(record.Lines(), s.max, s.policy)
	for {
		for {
			rec, ok := buf.Next()
			if !ok {
				break
			}
			if !emit(append([]byte(nil), rec...)) {
				return
			}
		}
		s.ctr.Oversize(buf)
		if _, err := buf.Fill(f.Read); err != nil {
			break // io.EOF, or the pipe closed by Close
		}
	}
	if rec, ok := buf.Remainder(); ok {
		emit(append([]byte(nil), rec...))
	}
	s.ctr.Oversize(buf)
}

// readAggregate makes one event of everything f gives.
func (s *execSource) readAggregate(f *os.File, emit func([]byte) bool) {
	var (
		all   []byte
		over  bool
		chunk = make([]byte, aggregateChunk)
	)
	for {
		n, err := f.Read(chunk)
		if room := s.max - len(all); n > room {
			all = append(all, chunk[:room]...)
			over = true
		} else {
			all = append(all, chunk[:n]...)
		}
		if err != nil {
			break
		}
	}
	if over {
		if s.policy == event.Reject {
			s.ctr.Rejected.Inc()
			return
		}
		s.ctr.Truncated.Inc()
	}
	if len(all) > 0 {
		emit(all)
	}
}
