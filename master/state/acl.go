package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Access control: tokens and node name bindings. A token is kept by its accessor, a public id
// derived from its secret, with a SHA-256 hash of the secret; the secret itself never enters
// the state. A physical node's name is bound to the identity that claimed it first, so another
// identity cannot run a node of that name.

// MinSecretLength is the least length of a token's secret: 20 characters of a random string
// (rand.Text gives 26) leave no room for guessing.
const MinSecretLength = 20

// HashSecret returns the hash the state keeps of a token's secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Accessor returns the public id of the token whose secret is secret: the same secret always
// gives the same accessor, so a create retried after a lost answer creates one token.
func Accessor(secret string) string {
	h := sha256.Sum256([]byte("flume token accessor\x00" + secret))
	return hex.EncodeToString(h[:6])
}

// CheckSecret says why secret cannot be a token's secret, or nil.
func CheckSecret(secret string) error {
	if len(secret) < MinSecretLength {
		return fmt.Errorf("a token's secret must be at least %d characters of a random string, not %d", MinSecretLength, len(secret))
	}
	if strings.TrimSpace(secret) != secret || strings.ContainsAny(secret, "\r\n\t ") {
		return fmt.Errorf("a token's secret must not hold blanks or line breaks")
	}
	return nil
}

// RoleName returns the name of a role as users write it: read, operator, admin, node.
func RoleName(r flumev1.TokenRole) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "TOKEN_ROLE_"))
}

// ParseRole returns the role named name.
func ParseRole(name string) (flumev1.TokenRole, error) {
	r, ok := flumev1.TokenRole_value["TOKEN_ROLE_"+strings.ToUpper(name)]
	if !ok || r == 0 {
		return 0, fmt.Errorf("unknown role %q: want read, operator, admin or node", name)
	}
	return flumev1.TokenRole(r), nil
}

func (s *State) createToken(cmd *flumev1.Command) (string, error) {
	c := cmd.GetCreateToken()
	t := c.GetToken()
	switch {
	case t.GetAccessor() == "" || len(t.GetSecretHash()) != sha256.Size:
		return "", fmt.Errorf("a token needs an accessor and the hash of its secret")
	case t.GetRole() < flumev1.TokenRole_TOKEN_ROLE_READ || t.GetRole() > flumev1.TokenRole_TOKEN_ROLE_NODE:
		return "", fmt.Errorf("a token needs a role: read, operator, admin or node")
	}
	if c.GetBootstrap() {
		if s.aclBootstrapped != 0 {
			return "", fmt.Errorf("access control was bootstrapped already, on %s; an admin token creates more tokens",
				time.Unix(0, s.aclBootstrapped).UTC().Format(time.RFC3339))
		}
		if t.GetRole() != flumev1.TokenRole_TOKEN_ROLE_ADMIN {
			return "", fmt.Errorf("the bootstrap token must have the admin role")
		}
	}
	if old, ok := s.tokens[t.GetAccessor()]; ok {
		if bytes.Equal(old.GetSecretHash(), t.GetSecretHash()) && old.GetRole() == t.GetRole() {
			return "token " + t.GetAccessor() + " exists already", nil
		}
		return "", fmt.Errorf("token %s exists already with another secret or role", t.GetAccessor())
	}
	stored := proto.CloneOf(t)
	stored.Created = cmd.GetTime()
	s.tokens[t.GetAccessor()] = stored
	s.byHash[string(t.GetSecretHash())] = t.GetAccessor()
	if c.GetBootstrap() {
		s.aclBootstrapped = cmd.GetTime()
	}
	return fmt.Sprintf("token %s (%s) created", t.GetAccessor(), RoleName(t.GetRole())), nil
}

func (s *State) revokeToken(cmd *flumev1.Command) (string, error) {
	acc := cmd.GetRevokeToken().GetAccessor()
	t, ok := s.tokens[acc]
	if !ok {
		return "", fmt.Errorf("no token %q", acc)
	}
	if t.GetRole() == flumev1.TokenRole_TOKEN_ROLE_ADMIN {
		admins := 0
		for _, o := range s.tokens {
			if o.GetRole() == flumev1.TokenRole_TOKEN_ROLE_ADMIN {
				admins++
			}
		}
		if admins == 1 {
			return "", fmt.Errorf("token %s is the last admin token: create another admin token before revoking it", acc)
		}
	}
	delete(s.tokens, acc)
	delete(s.byHash, string(t.GetSecretHash()))
	note := "token " + acc + " revoked"
	var bound []string
	for _, p := range slices.Sorted(maps.Keys(s.bindings)) {
		if s.bindings[p].GetIdentity() == "token:"+acc {
			bound = append(bound, p)
		}
	}
	if len(bound) > 0 {
		note += fmt.Sprintf("; physical nodes %s stay bound to it (flumectl acl unbind NAME frees a name)", strings.Join(bound, ", "))
	}
	return note, nil
}

func (s *State) bindNode(cmd *flumev1.Command) (string, error) {
	b := cmd.GetBindNode()
	if b.GetPhysical() == "" || b.GetIdentity() == "" {
		return "", fmt.Errorf("a binding needs a physical node and an identity")
	}
	if cur, ok := s.bindings[b.GetPhysical()]; ok {
		if cur.GetIdentity() == b.GetIdentity() {
			return "bound already", nil
		}
		return "", fmt.Errorf("physical node %s is bound to %s, not %s", b.GetPhysical(), cur.GetIdentity(), b.GetIdentity())
	}
	s.bindings[b.GetPhysical()] = &flumev1.NodeBinding{Physical: b.GetPhysical(), Identity: b.GetIdentity(), Since: cmd.GetTime()}
	return "", nil
}

func (s *State) unbindNode(cmd *flumev1.Command) (string, error) {
	p := cmd.GetUnbindNode().GetPhysical()
	cur, ok := s.bindings[p]
	if !ok {
		return "", fmt.Errorf("physical node %s is bound to no identity", p)
	}
	delete(s.bindings, p)
	return "physical node " + p + " was bound to " + cur.GetIdentity(), nil
}

// TokenBySecret returns the token whose secret is secret.
func (s *State) TokenBySecret(secret string) (*flumev1.Token, bool) {
	acc, ok := s.byHash[string(HashSecret(secret))]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(s.tokens[acc]), true
}

// Tokens returns every token, sorted by accessor, without the hashes of their secrets.
func (s *State) Tokens() []*flumev1.Token {
	out := make([]*flumev1.Token, 0, len(s.tokens))
	for _, acc := range slices.Sorted(maps.Keys(s.tokens)) {
		t := proto.CloneOf(s.tokens[acc])
		t.SecretHash = nil
		out = append(out, t)
	}
	return out
}

// ACLBootstrapped returns when the first admin token was created, in unix nanoseconds; 0 if
// it never was.
func (s *State) ACLBootstrapped() int64 { return s.aclBootstrapped }

// Binding returns the identity physical node name is bound to.
func (s *State) Binding(name string) (string, bool) {
	b, ok := s.bindings[name]
	return b.GetIdentity(), ok
}

// Bindings returns every node name binding, sorted by physical node.
func (s *State) Bindings() []*flumev1.NodeBinding {
	out := make([]*flumev1.NodeBinding, 0, len(s.bindings))
	for _, p := range slices.Sorted(maps.Keys(s.bindings)) {
		out = append(out, proto.CloneOf(s.bindings[p]))
	}
	return out
}

// aclToProto adds tokens and bindings to a snapshot.
func (s *State) aclToProto(m *flumev1.MasterState) {
	for _, acc := range slices.Sorted(maps.Keys(s.tokens)) {
		m.Tokens = append(m.Tokens, proto.CloneOf(s.tokens[acc]))
	}
	m.AclBootstrapped = s.aclBootstrapped
	m.Bindings = s.Bindings()
}

// aclFromProto restores tokens and bindings from a snapshot.
func (s *State) aclFromProto(m *flumev1.MasterState) error {
	for _, t := range m.GetTokens() {
		if t.GetAccessor() == "" || len(t.GetSecretHash()) != sha256.Size {
			return fmt.Errorf("master state: a token has no accessor or a hash of the wrong size")
		}
		s.tokens[t.GetAccessor()] = proto.CloneOf(t)
		s.byHash[string(t.GetSecretHash())] = t.GetAccessor()
	}
	s.aclBootstrapped = m.GetAclBootstrapped()
	for _, b := range m.GetBindings() {
		s.bindings[b.GetPhysical()] = proto.CloneOf(b)
	}
	return nil
}
