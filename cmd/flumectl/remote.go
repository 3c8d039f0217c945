package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/master/ensemble"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// remote holds the flags of the commands that talk to the masters.
type remote struct {
	master  string
	confDir string
	output  string
	timeout time.Duration
	token   string
	tlsCA   string
	tlsCert string
	tlsKey  string

	props *conf.Config // flume-site.xml, read once
}

func (r *remote) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&r.master, "master", "", "admin address of a master, host[:port], or several, comma-separated (default: $FLUME_MASTER, or every master of flume.master.servers)")
	f.StringVar(&r.confDir, "conf", "", "directory holding flume-site.xml (default: $"+conf.EnvConfDir+")")
	f.StringVarP(&r.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&r.timeout, "timeout", 10*time.Second, "how long to keep trying while the masters elect a leader")
	f.StringVar(&r.token, "token", "", "access token (default: $FLUME_TOKEN, or the first line of ~/.flume/token)")
	f.StringVar(&r.tlsCA, "tls-ca", "", "PEM file of the CA that signed the masters' certificates (default: property "+conf.TLSCA+")")
	f.StringVar(&r.tlsCert, "tls-cert", "", "PEM file of this client's certificate, for masters that verify clients (default: property "+conf.TLSCert+")")
	f.StringVar(&r.tlsKey, "tls-key", "", "PEM file of the key of --tls-cert (default: property "+conf.TLSKey+")")
}

// conf returns the properties of flume-site.xml (--conf or $FLUME_CONF_DIR), read once.
func (r *remote) conf() (*conf.Config, error) {
	if r.props == nil {
		props, err := conf.Load(conf.Options{ConfDir: r.confDir})
		if err != nil {
			return nil, err
		}
		r.props = props
	}
	return r.props, nil
}

// addresses finds the masters to talk to: --master, $FLUME_MASTER (either may list several,
// comma-separated), or every master of flume.master.servers in flume-site.xml.
func (r *remote) addresses() ([]string, error) {
	list := r.master
	if list == "" {
		list = os.Getenv("FLUME_MASTER")
	}
	if list == "" {
		props, err := r.conf()
		if err != nil {
			return nil, err
		}
		peers, err := ensemble.PeersFromServers(props.List(conf.MasterServers), ensemble.Ports{
			Admin: int(props.Int(conf.MasterAdminPort)), Raft: int(props.Int(conf.MasterRaftPort))})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range peers {
			out = append(out, p.Admin)
		}
		return out, nil
	}
	var out []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, strconv.Itoa(ensemble.DefaultAdminPort))
		}
		out = append(out, a)
	}
	return out, nil
}

// address returns the first master to talk to, for messages.
func (r *remote) address() (string, error) {
	addrs, err := r.addresses()
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// secret returns the token to present: --token, $FLUME_TOKEN, or the first line of
// ~/.flume/token; empty when none is given.
func (r *remote) secret() (string, error) {
	if r.token != "" {
		return r.token, nil
	}
	if t := os.Getenv("FLUME_TOKEN"); t != "" {
		return strings.TrimSpace(t), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile(filepath.Join(home, ".flume", "token"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(first), nil
}

// credentials returns the TLS credentials for the masters: from --tls-ca, --tls-cert and
// --tls-key, or flume.tls.* in flume-site.xml; nil (plaintext) when no CA is given. A CA alone
// verifies the masters without presenting a client certificate.
func (r *remote) credentials() (credentials.TransportCredentials, error) {
	files := tlsconf.Files{CA: r.tlsCA, Cert: r.tlsCert, Key: r.tlsKey}
	if files == (tlsconf.Files{}) {
		props, err := r.conf()
		if err != nil {
			return nil, err
		}
		files = tlsconf.Files{CA: props.String(conf.TLSCA), Cert: props.String(conf.TLSCert), Key: props.String(conf.TLSKey)}
	}
	if files.CA == "" && files.Cert == "" && files.Key == "" {
		return nil, nil
	}
	prov, err := tlsconf.LoadClient(files)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return prov.ClientCredentials(tlsconf.MasterName), nil
}

// client returns a client of the masters' admin service, with TLS and the token.
func (r *remote) client() (*client.Client, error) {
	addrs, err := r.addresses()
	if err != nil {
		return nil, err
	}
	creds, err := r.credentials()
	if err != nil {
		return nil, err
	}
	token, err := r.secret()
	if err != nil {
		return nil, err
	}
	return client.New(client.Options{Addrs: addrs, Credentials: creds, Token: token})
}

// call runs fn against the masters: when the one asked is unavailable (down, or no leader yet)
// it tries the next, round and round, until the timeout. Errors come back with what the
// master said, and their gRPC status.
func (r *remote) call(ctx context.Context, fn func(context.Context, flumev1.AdminServiceClient) error) error {
	cl, err := r.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return cl.Admin(ctx, "", fn)
}

// print writes msg as JSON, or calls table.
func (r *remote) print(w io.Writer, msg proto.Message, table func(*tabwriter.Writer)) error {
	if r.output == "json" {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(msg)
		if err != nil {
			return err
		}
		var v any // re-indent through encoding/json for stable output
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// commandCommands returns one subcommand per classic command that changes the state.
func commandCommands(r *remote) []*cobra.Command {
	var out []*cobra.Command
	for _, name := range command.Names() {
		out = append(out, &cobra.Command{
			Use:                name + " ARGS...",
			Short:              "Run the master command " + name,
			DisableFlagParsing: false,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runExec(cmd, r, append([]string{name}, args...))
			},
		})
	}
	return out
}

func runExec(cmd *cobra.Command, r *remote, argv []string) error {
	var rec *flumev1.CommandRecord
	req := &flumev1.ExecRequest{Argv: argv, Origin: "flumectl", RequestId: command.NewRequestID()}
	err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) error {
		resp, err := c.Exec(ctx, req) // the same id on every retry: applied once
		rec = resp.GetRecord()
		return err
	})
	if err != nil {
		return err
	}
	if err := r.print(cmd.OutOrStdout(), rec, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "command %d\t%s\t%s\n", rec.GetId(), stateName(rec.GetState()), rec.GetMessage())
	}); err != nil {
		return err
	}
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		return cli.ExitError{Code: 1}
	}
	return nil
}

func stateName(s flumev1.CommandState) string {
	return strings.TrimPrefix(s.String(), "COMMAND_STATE_")
}

// queryCommands returns the read-only commands.
func queryCommands(r *remote) []*cobra.Command {
	return []*cobra.Command{
		{Use: "configs", Short: "Show every logical node's configuration, submitted and translated", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var resp *flumev1.GetConfigsResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetConfigs(ctx, &flumev1.GetConfigsRequest{})
					return err
				})
				if err != nil {
					return err
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "NODE\tFLOW\tVERSION\tSOURCE\tSINK")
					for _, t := range resp.GetTranslated() {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.GetNode(), t.GetFlow(), t.GetVersion(), t.GetSource(), t.GetSink())
					}
				})
			}},
		{Use: "status", Short: "Show every logical node: physical node, host, state, version, last seen", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var resp *flumev1.GetNodeStatusesResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
					return err
				})
				if err != nil {
					return err
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "LOGICAL\tPHYSICAL\tHOST\tSTATE\tVERSION\tLAST SEEN\tERROR / NOTE")
					for _, s := range resp.GetStatuses() {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.GetLogical(), s.GetPhysical(), s.GetHost(),
							logicalState(s.GetState()), s.GetVersion(), lastSeen(s, 100*time.Millisecond),
							firstLine(cmp.Or(s.GetError(), s.GetNote())))
					}
				})
			}},
		{Use: "metrics [LOGICAL]", Short: "Show the counters and gauges each logical node reported last (all, or one node's)",
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var resp *flumev1.GetNodeStatusesResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{Metrics: true})
					return err
				})
				if err != nil {
					return err
				}
				if len(args) == 1 {
					resp.Statuses = slices.DeleteFunc(resp.Statuses, func(s *flumev1.NodeStatus) bool { return s.GetLogical() != args[0] })
					if len(resp.Statuses) == 0 {
						return fmt.Errorf("no status of logical node %q: it is not mapped, or its node has not reported yet", args[0])
					}
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "LOGICAL\tMETRIC\tVALUE")
					for _, s := range resp.GetStatuses() {
						for _, m := range s.GetMetrics() {
							fmt.Fprintf(tw, "%s\t%s\t%d\n", s.GetLogical(), m.GetName(), m.GetValue())
						}
					}
				})
			}},
		{Use: "mappings [PHYSICAL]", Short: "Show which logical nodes run on which physical nodes", Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				req := &flumev1.GetMappingsRequest{}
				if len(args) == 1 {
					req.Physical = args[0]
				}
				var resp *flumev1.GetMappingsResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetMappings(ctx, req)
					return err
				})
				if err != nil {
					return err
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "PHYSICAL\tLOGICAL")
					for _, m := range resp.GetMappings() {
						fmt.Fprintf(tw, "%s\t%s\n", m.GetPhysical(), m.GetLogical())
					}
				})
			}},
		{Use: "members", Short: "Show the masters of the ensemble, the leader, the term and the last log index", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var resp *flumev1.GetMembersResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetMembers(ctx, &flumev1.GetMembersRequest{})
					return err
				})
				if err != nil {
					return err
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tADMIN\tRAFT\tROLE")
					for _, m := range resp.GetMembers() {
						role := "follower"
						if m.GetLeader() {
							role = "leader"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.GetId(), m.GetAdminAddress(), m.GetRaftAddress(), role)
					}
					fmt.Fprintf(tw, "term %d, last index %d (as master %s sees it)\n", resp.GetTerm(), resp.GetLastIndex(), resp.GetAnsweredBy())
				})
			}},
		{Use: "history [ID]", Short: "Show the command history, or one command", Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				req := &flumev1.GetCommandsRequest{}
				if len(args) == 1 {
					id, err := strconv.ParseUint(args[0], 10, 64)
					if err != nil {
						return fmt.Errorf("history: %q is not a command id", args[0])
					}
					req.Id = id
				}
				var resp *flumev1.GetCommandsResponse
				err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
					resp, err = c.GetCommands(ctx, req)
					return err
				})
				if err != nil {
					return err
				}
				return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tSTATE\tCOMMAND\tMESSAGE")
					for _, c := range resp.GetRecords() {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", c.GetId(), stateName(c.GetState()), strings.Join(c.GetArgv(), " "), c.GetMessage())
					}
				})
			}},
	}
}

// firstLine returns the first line of s: a stack trace stays out of a table.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
