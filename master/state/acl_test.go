package state

import (
	"strings"
	"testing"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func token(secret string, role flumev1.TokenRole, bootstrap bool) *flumev1.Command {
	return cmd("acl create", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_CreateToken{CreateToken: &flumev1.CreateToken{Bootstrap: bootstrap, Token: &flumev1.Token{
			Accessor: Accessor(secret), SecretHash: HashSecret(secret), Role: role}}}
	})
}

// aclOp is a random access-control command for randomLog: k in 2..5.
func aclOp(k int, name func(string) string) *flumev1.Command {
	switch k {
	case 2:
		return token("secret-of-token-number-"+name("t"), flumev1.TokenRole(1+len(name("x"))%4), false)
	case 3:
		return cmd("acl revoke", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_RevokeToken{RevokeToken: &flumev1.RevokeToken{Accessor: Accessor("secret-of-token-number-" + name("t"))}}
		})
	case 4:
		return cmd("bindnode", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_BindNode{BindNode: &flumev1.BindNode{Physical: name("h"), Identity: "cert:" + name("h")}}
		})
	default:
		return cmd("acl unbind", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_UnbindNode{UnbindNode: &flumev1.UnbindNode{Physical: name("h")}}
		})
	}
}

func failed(t *testing.T, s *State, c *flumev1.Command, want string) {
	t.Helper()
	rec := s.Apply(c)
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED || !strings.Contains(rec.GetMessage(), want) {
		t.Fatalf("%v: %v %q, want a failure saying %q", c.GetArgv(), rec.GetState(), rec.GetMessage(), want)
	}
}

func TestTokensAreFoundBySecretOnlyAndBootstrapOnce(t *testing.T) {
	s := New()
	applyOK(t, s, token("the-first-admin-secret-xyz", flumev1.TokenRole_TOKEN_ROLE_ADMIN, true))
	if _, ok := s.TokenBySecret("the-first-admin-secret-xyz"); !ok {
		t.Fatal("the bootstrap token is not found by its secret")
	}
	if _, ok := s.TokenBySecret("the-first-admin-secret-xyZ"); ok {
		t.Fatal("a token is found by another secret")
	}
	failed(t, s, token("another-admin-secret-abcd", flumev1.TokenRole_TOKEN_ROLE_ADMIN, true), "bootstrapped already")
	failed(t, s, cmd("acl revoke", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_RevokeToken{RevokeToken: &flumev1.RevokeToken{Accessor: Accessor("the-first-admin-secret-xyz")}}
	}), "last admin token")
	for _, tok := range s.Tokens() {
		if len(tok.GetSecretHash()) != 0 {
			t.Fatal("Tokens shows a hash")
		}
	}
	if s.ACLBootstrapped() == 0 {
		t.Fatal("not marked bootstrapped")
	}
	if CheckSecret("short") == nil || CheckSecret("twenty characters with blanks") == nil || CheckSecret(strings.Repeat("k", 20)) != nil {
		t.Fatal("CheckSecret takes a weak secret or refuses a good one")
	}
}

func TestANodeNameStaysBoundUntilUnbound(t *testing.T) {
	s := New()
	bind := func(p, id string) *flumev1.Command {
		return cmd("bindnode", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_BindNode{BindNode: &flumev1.BindNode{Physical: p, Identity: id}}
		})
	}
	applyOK(t, s, bind("host1", "cert:host1"))
	applyOK(t, s, bind("host1", "cert:host1"))
	failed(t, s, bind("host1", "token:abc"), "bound to cert:host1")
	applyOK(t, s, cmd("acl unbind", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_UnbindNode{UnbindNode: &flumev1.UnbindNode{Physical: "host1"}}
	}))
	applyOK(t, s, bind("host1", "token:abc"))
	if id, _ := s.Binding("host1"); id != "token:abc" {
		t.Fatalf("host1 bound to %q", id)
	}
}

// TestAPhysicalNodesConfigurationsAreBounded: a node takes all its logical nodes' configurations
// in one session message, so a config or map that would pass MaxAssignmentBytes on one physical
// node is refused, and changes nothing.
func TestAPhysicalNodesConfigurationsAreBounded(t *testing.T) {
	s := New()
	big := `text("` + strings.Repeat("x", 2500<<10) + `")`
	applyOK(t, s, config("a", "", big, "null"))
	applyOK(t, s, config("b", "", big, "null"))
	applyOK(t, s, mapNode("host1", "a"))
	failed(t, s, mapNode("host1", "b"), "physical node host1 would be given 4.9 MiB of configurations")
	applyOK(t, s, mapNode("host2", "b"))
	applyOK(t, s, config("c", "", "null", "null"))
	applyOK(t, s, mapNode("host1", "c"))
	failed(t, s, config("c", "", big, "null"), "physical node host1 would be given")
	if c, _ := s.Config("c"); c.GetConfig().GetSource() != "null" {
		t.Fatal("the refused config changed c")
	}
}
