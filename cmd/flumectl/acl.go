package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// aclCommand is `flumectl acl`: tokens and node name bindings (docs/security.md).
func aclCommand(r *remote) *cobra.Command {
	acl := &cobra.Command{
		Use:   "acl",
		Short: "Manage access control: tokens (read, operator, admin, node) and node name bindings",
		Long: `Manage access control, when the masters run with flume.acl.enabled=true.

A token's secret is shown once, when it is made; the masters keep only its hash. Give it to
flumectl with --token, $FLUME_TOKEN or ~/.flume/token, and to a node with flume.acl.token.file.
Roles: read (status, configs, metrics, history), operator (read, and config, map, unmap,
refresh, decommission, ...), admin (everything: purge, membership, tokens), node (a node's
sessions and commits).`,
	}
	var desc, save string
	var role string
	bootstrap := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the first admin token of the ensemble (once; or use flume.acl.bootstrap.token.file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret := newSecret()
			var resp *flumev1.BootstrapACLResponse
			err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
				resp, err = c.BootstrapACL(ctx, &flumev1.BootstrapACLRequest{Secret: secret, Description: desc})
				return err
			})
			if err != nil {
				return err
			}
			return printSecret(cmd, r, "admin", resp.GetAccessor(), secret, save)
		},
	}
	create := &cobra.Command{
		Use:   "create --role ROLE [--description TEXT]",
		Short: "Create a token (admin role needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rl, err := state.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			secret := newSecret()
			var resp *flumev1.CreateTokenResponse
			err = r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
				// The same secret on every retry: the token is created once.
				resp, err = c.CreateToken(ctx, &flumev1.CreateTokenRequest{Role: rl, Description: desc, Secret: secret})
				return err
			})
			if err != nil {
				return err
			}
			return printSecret(cmd, r, state.RoleName(rl), resp.GetAccessor(), secret, save)
		},
	}
	for _, c := range []*cobra.Command{bootstrap, create} {
		c.Flags().StringVar(&desc, "description", "", "what the token is for")
		c.Flags().StringVar(&save, "save", "", "also write the secret to this file (mode 0600), e.g. ~/.flume/token or a node's flume.acl.token.file")
	}
	create.Flags().StringVar(&role, "role", "", "read, operator, admin or node")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens: accessor, role, description, created (admin role needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp *flumev1.ListTokensResponse
			err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
				resp, err = c.ListTokens(ctx, &flumev1.ListTokensRequest{})
				return err
			})
			if err != nil {
				return err
			}
			return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ACCESSOR\tROLE\tDESCRIPTION\tCREATED\tBY")
				for _, t := range resp.GetTokens() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.GetAccessor(), state.RoleName(t.GetRole()), t.GetDescription(),
						time.Unix(0, t.GetCreated()).UTC().Format(time.RFC3339), t.GetCreatedBy())
				}
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ACCESSOR",
		Short: "Revoke a token at once (admin role needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) error {
				_, err := c.RevokeToken(ctx, &flumev1.RevokeTokenRequest{Accessor: args[0]})
				return err
			})
		},
	}
	nodes := &cobra.Command{
		Use:   "nodes",
		Short: "List which identity each physical node's name is bound to (admin role needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp *flumev1.ListNodeBindingsResponse
			err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
				resp, err = c.ListNodeBindings(ctx, &flumev1.ListNodeBindingsRequest{})
				return err
			})
			if err != nil {
				return err
			}
			return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "PHYSICAL\tIDENTITY\tSINCE")
				for _, b := range resp.GetBindings() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", b.GetPhysical(), b.GetIdentity(), time.Unix(0, b.GetSince()).UTC().Format(time.RFC3339))
				}
			})
		},
	}
	unbind := &cobra.Command{
		Use:   "unbind PHYSICAL",
		Short: "Free a physical node's name for another identity, e.g. a rebuilt host with a new token (admin role needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) error {
				_, err := c.UnbindNode(ctx, &flumev1.UnbindNodeRequest{Physical: args[0]})
				return err
			})
		},
	}
	whoami := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the masters take this client for, and its role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp *flumev1.WhoAmIResponse
			err := r.call(cmd.Context(), func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
				resp, err = c.WhoAmI(ctx, &flumev1.WhoAmIRequest{})
				return err
			})
			if err != nil {
				return err
			}
			return r.print(cmd.OutOrStdout(), resp, func(tw *tabwriter.Writer) {
				role := "-"
				if resp.GetRole() != flumev1.TokenRole_TOKEN_ROLE_UNSPECIFIED {
					role = state.RoleName(resp.GetRole())
				}
				fmt.Fprintf(tw, "identity\t%s\nrole\t%s\naccess control\t%s\n", resp.GetIdentity(), role, onOff(resp.GetAclEnabled()))
			})
		},
	}
	acl.AddCommand(bootstrap, create, list, revoke, nodes, unbind, whoami)
	return acl
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// newSecret returns a token's secret: 26 characters of a random base32 string (130 bits).
func newSecret() string { return rand.Text() }

// printSecret shows a new token once, and saves it when asked.
func printSecret(cmd *cobra.Command, r *remote, role, accessor, secret, save string) error {
	if save != "" {
		if err := os.MkdirAll(filepath.Dir(save), 0o700); err != nil {
			return fmt.Errorf("save the token: %w", err)
		}
		if err := os.WriteFile(save, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("save the token: %w", err)
		}
	}
	if r.output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Accessor string `json:"accessor"`
			Role     string `json:"role"`
			Secret   string `json:"secret"`
		}{accessor, role, secret})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "accessor  %s\nrole      %s\nsecret    %s\n", accessor, role, secret)
	if save != "" {
		fmt.Fprintf(cmd.OutOrStdout(), "saved to  %s\n", save)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown once: the masters keep only its hash.")
	return nil
}
