package compose

import (
	"fmt"
	"math/big"
	"net"
	"path"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// validate checks what docker's loader accepts but the engine, or docker's
// converter, would reject only once something has been written, and what
// swarm would accept but never schedule. Each message is one line: the
// key, the problem and what to do.
func validate(cfg *composetypes.Config) error {
	ports := map[publishedPort]string{} // the first service that publishes it
	for _, svc := range cfg.Services {
		name := svc.Name
		if err := validateDeploy(name, &svc.Deploy); err != nil {
			return err
		}
		if err := validatePorts(name, svc.Ports, ports); err != nil {
			return err
		}
		if err := validateTargets(name, "secrets", secretRefs(svc.Secrets)); err != nil {
			return err
		}
		if err := validateTargets(name, "configs", configRefs(svc.Configs)); err != nil {
			return err
		}
		if err := validateMounts(name, svc.Volumes); err != nil {
			return err
		}
	}
	return nil
}

// validateMounts rejects two mounts at one path, which the engine refuses
// when it creates the service ("duplicate mount point").
func validateMounts(name string, vols []composetypes.ServiceVolumeConfig) error {
	seen := map[string]bool{}
	for _, v := range vols {
		t := path.Clean(v.Target)
		if seen[t] {
			return fmt.Errorf("services.%s.volumes: two mounts at %s: the engine refuses the service: mount each path once", name, t)
		}
		seen[t] = true
	}
	return nil
}

func validateDeploy(name string, d *composetypes.DeployConfig) error {
	key := "services." + name + ".deploy"
	switch d.Mode {
	case "", "replicated", "replicated-job":
	case "global", "global-job":
		if d.Replicas != nil {
			return fmt.Errorf("%s.replicas: replicas can only be used with replicated or replicated-job mode, not %s: remove replicas, or set mode: replicated", key, d.Mode)
		}
	default:
		return fmt.Errorf("%s.mode: unknown mode %q: use replicated, global, replicated-job or global-job", key, d.Mode)
	}
	switch strings.ToLower(d.EndpointMode) { // docker stack deploy lowercases it
	case "", "vip", "dnsrr":
	default:
		return fmt.Errorf("%s.endpoint_mode: unknown endpoint mode %q: use vip or dnsrr", key, d.EndpointMode)
	}
	if r := d.Resources.Limits; r != nil {
		if err := checkCPUs(key+".resources.limits.cpus", r.NanoCPUs); err != nil {
			return err
		}
	}
	if r := d.Resources.Reservations; r != nil {
		if err := checkCPUs(key+".resources.reservations.cpus", r.NanoCPUs); err != nil {
			return err
		}
	}
	if r := d.RestartPolicy; r != nil {
		switch r.Condition {
		case "", "none", "on-failure", "any":
		default:
			return fmt.Errorf("%s.restart_policy.condition: unknown condition %q: use none, on-failure or any", key, r.Condition)
		}
	}
	for i, c := range d.Placement.Constraints {
		if err := checkConstraint(c); err != nil {
			return fmt.Errorf("%s.placement.constraints.%d: %q: %w", key, i, c, err)
		}
	}
	return nil
}

// checkCPUs parses a CPU count as docker's converter does (opts.ParseCPUs:
// a rational number), which fails only after the networks were created.
func checkCPUs(key, v string) error {
	if v == "" {
		return nil
	}
	r, ok := new(big.Rat).SetString(v)
	if !ok || r.Sign() < 0 {
		return fmt.Errorf("%s: %q is not a number of CPUs: write one like 0.5", key, v)
	}
	return nil
}

// Swarm's constraint syntax (moby/swarmkit manager/constraint): "key op
// value", where op is the first of == and != that the text contains; key
// and value are trimmed of spaces and must match these patterns. A key
// swarm does not know makes the constraint match no node.
var (
	constraintOps   = []string{"==", "!="}
	constraintKey   = lazyRegexp(`^(?i)[a-z_][a-z0-9\-_.]+$`)
	constraintValue = lazyRegexp(`^(?i)[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+$`)
	constraintKeys  = []string{"node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch"}
	labelPrefixes   = []string{"node.labels.", "engine.labels."}
)

const constraintHint = "write it like node.role == manager or node.labels.zone != edge"

// checkConstraint checks one placement constraint as swarm parses it, and
// rejects those that parse but can match no node.
func checkConstraint(c string) error {
	for _, op := range constraintOps {
		k, v, ok := strings.Cut(c, op)
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !constraintKey().MatchString(k) {
			return fmt.Errorf("invalid key %q before %s: %s", k, op, constraintHint)
		}
		if !constraintValue().MatchString(v) {
			return fmt.Errorf("invalid value %q after %s: use letters, digits, spaces and - _ . : /, and no other operator", v, op)
		}
		lk := strings.ToLower(k)
		switch {
		case lk == "node.role":
			if lv := strings.ToLower(v); lv != "manager" && lv != "worker" {
				return fmt.Errorf("node.role is manager or worker, not %q: %s", v, constraintHint)
			}
		case lk == "node.ip":
			if net.ParseIP(v) == nil {
				if _, _, err := net.ParseCIDR(v); err != nil {
					return fmt.Errorf("node.ip needs an IP address or a CIDR subnet, not %q: write it like node.ip == 10.0.0.5 or node.ip != 10.0.0.0/24", v)
				}
			}
		case isConstraintKey(lk):
		default:
			return fmt.Errorf("unknown key %q, which matches no node: use %s, or node.labels.NAME or engine.labels.NAME", k, strings.Join(constraintKeys, ", "))
		}
		return nil
	}
	return fmt.Errorf("no == or != operator: %s", constraintHint)
}

func isConstraintKey(lk string) bool {
	for _, known := range constraintKeys {
		if lk == known {
			return true
		}
	}
	for _, p := range labelPrefixes {
		if len(lk) > len(p) && strings.HasPrefix(lk, p) {
			return true
		}
	}
	return false
}

// publishedPort is a port the swarm's routing mesh publishes.
type publishedPort struct {
	port     uint64
	protocol string
}

// validatePorts rejects a port that this service or an earlier one (in
// seen) already publishes with the same protocol: the engine would reject
// the second service after the first was written.
func validatePorts(name string, ports []composetypes.ServicePortConfig, seen map[publishedPort]string) error {
	mine := map[publishedPort]bool{}
	for _, pc := range ports {
		if pc.Published == 0 {
			continue // the engine picks a free port
		}
		proto := strings.ToLower(pc.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		pp := publishedPort{uint64(pc.Published), proto}
		if mine[pp] {
			return fmt.Errorf("services.%s.ports: port %d/%s is published twice: publish it once, or use a different port", name, pp.port, proto)
		}
		mine[pp] = true
		if pc.Mode == "host" {
			// Host-mode ports of different services conflict only
			// when their tasks share a node.
			continue
		}
		if other, ok := seen[pp]; ok {
			return fmt.Errorf("services.%s.ports: port %d/%s is already published by services.%s: publish a different port in one of them", name, pp.port, proto, other)
		}
		seen[pp] = name
	}
	return nil
}

// fileRef is a service's secret or config reference.
type fileRef struct{ source, target string }

func secretRefs(refs []composetypes.ServiceSecretConfig) []fileRef {
	out := make([]fileRef, len(refs))
	for i, r := range refs {
		out[i] = fileRef{r.Source, r.Target}
	}
	return out
}

func configRefs(refs []composetypes.ServiceConfigObjConfig) []fileRef {
	out := make([]fileRef, len(refs))
	for i, r := range refs {
		out[i] = fileRef{r.Source, r.Target}
	}
	return out
}

// validateTargets rejects two references of one service that docker
// stack deploy would mount at the same target (its default target is the
// source's name), which the engine rejects when it creates the service.
func validateTargets(name, kind string, refs []fileRef) error {
	byTarget := map[string]string{}
	for _, r := range refs {
		t := r.target
		if t == "" {
			t = r.source
		}
		if kind == "secrets" {
			t = strings.TrimPrefix(t, "/run/secrets/")
		}
		if prev, ok := byTarget[t]; ok && prev != r.source {
			return targetConflict(name, kind, prev, r.source, t)
		}
		byTarget[t] = r.source
	}
	return nil
}

func targetConflict(name, kind, a, b, target string) error {
	return fmt.Errorf("services.%s.%s: %s and %s are both mounted at %s: give each its own target", name, kind, a, b, target)
}
