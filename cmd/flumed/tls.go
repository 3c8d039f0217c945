package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/internal/pki"
)

// tlsInitConfig is the configuration of `flumed tls init`.
type tlsInitConfig struct {
	Dir   string
	Hosts []string
	Nodes []string
	Days  int
	Force bool
}

// tlsCertConfig is the configuration of `flumed tls cert`.
type tlsCertConfig struct {
	Dir   string
	Role  string
	Name  string
	Hosts []string
	Days  int
}

func newTLSCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Make the certificate authority and the certificates that turn TLS on",
		Long: `Make a certificate authority (CA) for the ensemble and the certificates it signs. Every
certificate carries its role as a DNS name (master.flume, node.flume, client.flume), and clients
check that role rather than the host they dialed, so addresses can change without new
certificates. Setting flume.tls.ca, flume.tls.cert and flume.tls.key turns TLS on for every
listener and client of a daemon; each command prints the properties to set.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTLSInitCommand(), newTLSCertCommand())
	return cmd
}

func newTLSInitCommand() *cobra.Command {
	cfg := &tlsInitConfig{}
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--hosts h1,h2] [--nodes n1,n2]",
		Short: "Make a new CA and certificates for the masters, the nodes and flumectl",
		Long: `Make a new CA in --dir (ca.pem, and ca-key.pem, which signs for any role: keep it off the
hosts) and certificates signed by it: master.pem for the masters, node.pem shared by the nodes,
node-NAME.pem for each --nodes entry (its own identity, CN NAME), and client.pem for flumectl.
Master and node certificates also name localhost, 127.0.0.1, ::1 and every --hosts entry, for
clients that check host names. An existing CA is replaced only with --force.`,
		Example: `  flumed tls init --dir /etc/flume/tls --hosts flume1.example.com,10.0.0.5 --nodes host7,host8`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Days <= 0 {
				return fmt.Errorf("--days %d: want a positive number of days", cfg.Days)
			}
			dir, err := filepath.Abs(cfg.Dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			written, err := pki.Init{Dir: dir, Hosts: cfg.Hosts, Nodes: cfg.Nodes, Days: cfg.Days, Force: cfg.Force}.Run()
			out := cmd.OutOrStdout()
			printWritten(out, written)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nKeep %s off the daemons' hosts: it signs certificates for any role.\n", pki.CAKeyFile)
			printProperties(out, "every master", dir, "master")
			printProperties(out, "every node", dir, "node")
			for _, n := range cfg.Nodes {
				printProperties(out, "node "+n+" (its own certificate instead of the shared one)", dir, "node-"+n)
			}
			printProperties(out, "flumectl", dir, "client")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "directory to write the CA and certificates to (created 0700)")
	f.StringSliceVar(&cfg.Hosts, "hosts", nil, "extra host names and IP addresses of masters and nodes, comma-separated")
	f.StringSliceVar(&cfg.Nodes, "nodes", nil, "node names that get a certificate of their own, comma-separated")
	f.IntVar(&cfg.Days, "days", pki.DefaultDays, "days the certificates are valid (the CA: 10 years)")
	f.BoolVar(&cfg.Force, "force", false, "replace an existing CA: every certificate it signed stops being trusted")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func newTLSCertCommand() *cobra.Command {
	cfg := &tlsCertConfig{}
	cmd := &cobra.Command{
		Use:   "cert --dir DIR --role master|node|client --name NAME [--hosts h1,h2]",
		Short: "Make one more certificate from the CA made by 'flumed tls init'",
		Long: `Make a certificate signed by the CA in --dir for one more master, node or admin client. Its
CN is --name, and its files ROLE-NAME.pem and ROLE-NAME-key.pem (node-host7.pem); with the role's
own name (--name node.flume) it renews the shared ROLE.pem instead. Existing files of that name
are replaced.`,
		Example: `  flumed tls cert --dir /etc/flume/tls --role node --name host9 --hosts 10.0.0.9
  flumed tls cert --dir /etc/flume/tls --role client --name alice --days 90`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Days <= 0 {
				return fmt.Errorf("--days %d: want a positive number of days", cfg.Days)
			}
			dir, err := filepath.Abs(cfg.Dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			written, err := pki.Issue{Dir: dir, Role: cfg.Role, Name: cfg.Name, Hosts: cfg.Hosts, Days: cfg.Days}.Run()
			out := cmd.OutOrStdout()
			printWritten(out, written)
			if err != nil {
				return err
			}
			holder := map[string]string{pki.RoleMaster: "master " + cfg.Name, pki.RoleNode: "node " + cfg.Name,
				pki.RoleClient: "flumectl as " + cfg.Name}[cfg.Role]
			cert := filepath.Base(written[len(written)-1])
			printProperties(out, holder, dir, cert[:len(cert)-len(".pem")])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "directory holding ca.pem and ca-key.pem; the certificate is written there")
	f.StringVar(&cfg.Role, "role", "", "role of the certificate: master, node or client")
	f.StringVar(&cfg.Name, "name", "", "the holder's name, the certificate's CN (a node's host name, an admin's name)")
	f.StringSliceVar(&cfg.Hosts, "hosts", nil, "extra host names and IP addresses of a master or node, comma-separated")
	f.IntVar(&cfg.Days, "days", pki.DefaultDays, "days the certificate is valid")
	for _, name := range []string{"dir", "role", "name"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// printWritten lists the files written.
func printWritten(w io.Writer, written []string) {
	for _, path := range written {
		fmt.Fprintln(w, "wrote", path)
	}
}

// printProperties prints the flume-site.xml properties for the holder of BASE.pem in dir.
func printProperties(w io.Writer, holder, dir, base string) {
	fmt.Fprintf(w, "\nFor %s, copy %s, %s.pem and %s-key.pem there and set in flume-site.xml:\n", holder, pki.CAFile, base, base)
	for _, p := range []struct{ name, file string }{
		{"flume.tls.ca", pki.CAFile}, {"flume.tls.cert", base + ".pem"}, {"flume.tls.key", base + "-key.pem"},
	} {
		fmt.Fprintf(w, "  <property><name>%s</name><value>%s</value></property>\n", p.name, filepath.Join(dir, p.file))
	}
}
