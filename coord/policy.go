package coord

import (
	"errors"
	"fmt"
	"path"
)

// Policy says which senders may issue which commands and queries to which
// agents. Rules are tried in order and the first that matches decides; a
// request no rule matches is denied. A nil *Policy allows everything, which
// suits an in-process fleet; with signed messages the sender is
// authenticated, so a policy can trust Message.From.
//
// An Agent answers a denied request with an error reply (code CodeDenied)
// and writes an audit record.
type Policy struct {
	Rules []Rule
}

// Rule matches senders, command names and agents by path.Match patterns
// ("GL-0*", "set_*"); an empty list matches anything. Deny turns the rule
// into a denial.
type Rule struct {
	Senders  []string
	Commands []string
	Agents   []string
	Deny     bool
}

// Validate checks every pattern.
func (p *Policy) Validate() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i, r := range p.Rules {
		for _, list := range [][]string{r.Senders, r.Commands, r.Agents} {
			for _, pat := range list {
				if _, err := path.Match(pat, ""); err != nil {
					errs = append(errs, fmt.Errorf("%w: policy rule %d: pattern %q: %w", ErrBadConfig, i, pat, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Allow reports whether sender may send command to agent.
func (p *Policy) Allow(sender, command, agent string) bool {
	if p == nil {
		return true
	}
	for _, r := range p.Rules {
		if matchAny(r.Senders, sender) && matchAny(r.Commands, command) && matchAny(r.Agents, agent) {
			return !r.Deny
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
