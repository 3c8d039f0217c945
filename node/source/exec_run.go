package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/source/internal/record"
)

const (
	// shellNotFound is the exit status a POSIX shell gives when it cannot find the command.
	shellNotFound = 127
	// killGrace is how long a terminated command has to exit after SIGTERM before its
	// process group gets SIGKILL.
	killGrace = time.Second
	// drainGrace is how long the readers of a stopped command have to read what it wrote
	// before the pipes are closed under them. Once the group is killed the pipes end at once,
	// unless a process that left the group holds them.
	drainGrace = 500 * time.Millisecond
	// holdLimit bounds what a reader keeps per stream once the source is stopping and Next no
	// longer takes events: beyond it, the reader stops reading. A held event costs its body
	// and heldOverhead for the event itself.
	holdLimit    = 4 << 20
	heldOverhead = 256
	// aggregateChunk is the read size of aggregate mode.
	aggregateChunk = 32 << 10
)

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
		started := time.Now()
		s.runs.Inc()
		failed := s.runOnce(ctx, p)
		if ctx.Err() != nil || !s.restart {
			return
		}
		t := time.NewTimer(restartDelay(s.period, s.throttle, time.Since(started), failed))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if p, err = s.start(); err != nil {
			s.mu.Lock()
			s.runErr = fmt.Errorf("exec %q: restart: %w", s.cmdline, err)
			s.mu.Unlock()
			return
		}
	}
}

// restartDelay returns how long to wait, after a run that lasted ran, before the next one.
// It is period, as classic's exec waited; but a run that failed, or any run when no period
// paces them, is started again no sooner than throttle after its own start. So a command
// that fails at once (a crash loop), or `exec("true", restart=true)`, starts at most once per
// throttle, while one that ran for an hour and failed is restarted at once.
func restartDelay(period, throttle, ran time.Duration, failed bool) time.Duration {
	d := period
	if (failed || period == 0) && ran+d < throttle {
		d = throttle - ran
	}
	return d
}

// runOnce reads the output of p until it ends and reaps p. When ctx ends first it terminates
// p's process group. It reports whether the run failed: ended with a non-zero status or by a
// signal it was not sent by the source.
func (s *execSource) runOnce(ctx context.Context, p *proc) (failed bool) {
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
		signalGroup(p.cmd.Process, sigKill) // children it left running hold the pipes
		t := time.NewTimer(drainGrace)
		select {
		case <-readersDone:
		case <-t.C:
			// A process outside the group holds a pipe: closing our ends unblocks the
			// readers, which keep what they read.
			p.stdout.Close()
			p.stderr.Close()
			<-readersDone
		}
		t.Stop()
	}
	p.stdout.Close()
	p.stderr.Close()
	if err == nil || ctx.Err() != nil {
		return false
	}
	s.failures.Inc()
	var ee *exec.ExitError
	if s.shell && errors.As(err, &ee) && ee.ExitCode() == shellNotFound {
		s.log.Warn("exec command ended: the shell could not find the command (its message is an event tagged STDERR)",
			"cmd", s.cmdline, "err", err)
	} else {
		s.log.Info("exec command ended", "cmd", s.cmdline, "err", err)
	}
	return true
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

// emitter hands the events of one stream to Next. While the source runs it queues them, waiting
// for Next. Once the source is stopping (ctx is done) nothing takes from the queue until Close
// returns, so rather than wait it holds the event, and every later one too, so that the stream
// keeps its order: Next returns the held events after the queue.
type emitter struct {
	s         *execSource
	ctx       context.Context
	tag       []byte
	holding   bool
	held      []*event.Event
	heldBytes int
}

// emit makes an event of body (which it keeps) and queues or holds it.
func (w *emitter) emit(body []byte) {
	e := event.New(body)
	_ = e.SetAttr(AttrProcSource, w.tag)
	_ = e.SetAttr(AttrExecCmd, w.s.attrCmd)
	_ = e.SetAttr(AttrService, []byte("exec"))
	if !w.holding {
		select {
		case w.s.out <- e:
			return
		case <-w.ctx.Done():
			w.holding = true
		}
	}
	w.held = append(w.held, e)
	w.heldBytes += len(body) + heldOverhead
}

// full reports whether the emitter holds as much as it may: the reader reads no more.
func (w *emitter) full() bool { return w.heldBytes >= holdLimit }

// readStream turns one output stream of the command into events. It reads until the stream
// ends; what it read but could not queue once the source was stopping goes to s.held.
func (s *execSource) readStream(ctx context.Context, done *sync.WaitGroup, f *os.File, tag string) {
	defer done.Done()
	w := &emitter{s: s, ctx: ctx, tag: []byte(tag)}
	defer func() { s.hold(w.held) }()
	if s.aggregate {
		s.readAggregate(f, w)
		return
	}
	buf := record.NewBuffer(record.Lines(), s.max, s.policy)
	for {
		for {
			rec, ok := buf.Next()
			if !ok {
				break
			}
			w.emit(append([]byte(nil), rec...))
		}
		s.ctr.Oversize(buf)
		if w.full() {
			break
		}
		if _, err := buf.Fill(f.Read); err != nil {
			break // io.EOF, or the pipe closed by Close
		}
	}
	if rec, ok := buf.Remainder(); ok {
		w.emit(append([]byte(nil), rec...))
	}
	s.ctr.Oversize(buf)
}

// readAggregate makes one event of everything f gives (with oversize="split", events of at most
// the limit, in order).
func (s *execSource) readAggregate(f *os.File, w *emitter) {
	var (
		all   []byte
		over  bool
		chunk = make([]byte, aggregateChunk)
	)
	for {
		n, err := f.Read(chunk)
		for data := chunk[:n]; len(data) > 0; {
			if len(all) == s.max {
				if s.policy != event.Split {
					over = true
					break // the rest is read and dropped
				}
				if !over {
					over = true
					s.ctr.Split.Inc()
				}
				w.emit(all) // a piece of the limit; the rest in the next events
				all = nil
				if w.full() {
					return // stopping, with as much held as allowed
				}
			}
			k := min(s.max-len(all), len(data))
			all = append(all, data[:k]...)
			data = data[k:]
		}
		if err != nil {
			break
		}
	}
	if over && s.policy != event.Split {
		if s.policy == event.Reject {
			s.ctr.Rejected.Inc()
			return
		}
		s.ctr.Truncated.Inc()
	}
	if len(all) > 0 {
		w.emit(all)
	}
}
