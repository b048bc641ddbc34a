package compose

import (
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// The rules the swarm manager applies to a service spec when it creates or
// updates the service (moby/swarmkit manager/controlapi/service.go and
// common.go: validateServiceSpec and the functions it calls). docker's
// loader and converter take specs that break them, so the engine would
// refuse the service only after the networks and versions were written,
// and, on an existing stack, after other services were updated. Checking
// them on the converted specs finds that bad input before any write.

// serviceName is swarmkit's isValidDNSName (common.go); names have at most
// 63 characters, a DNS label's.
var serviceName = lazyRegexp(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

const (
	minNanoCPUs    = 1e6             // validateResources: 0.001 CPU
	minMemoryBytes = 4 * 1024 * 1024 // validateResources: 4 MiB
	minDuration    = time.Millisecond
)

// CheckSpecs applies swarm's rules to every converted service spec.
func (p *Project) CheckSpecs(specs *Specs) error {
	var errs []string
	for _, name := range SortedKeys(specs.Services) {
		key := "services." + strings.TrimPrefix(name, p.Stack+"_")
		if err := checkServiceSpec(name, key, specs.Services[name]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", p.where(), strings.Join(errs, "; "))
	}
	return nil
}

func checkServiceSpec(name, key string, s swarm.ServiceSpec) error {
	if !serviceName().MatchString(name) {
		return fmt.Errorf("%s: the service would be named %q, which swarm refuses: a service name (<stack>_<service>) has letters, digits, '-' and '_' only: rename the service", key, name)
	}
	if len(name) > 63 {
		return fmt.Errorf("%s: the service would be named %q, %d characters; swarm takes 63 at most: use a shorter stack or service name", key, name, len(name))
	}
	if err := checkTask(key, s.TaskTemplate); err != nil {
		return err
	}
	if job := s.Mode.ReplicatedJob != nil || s.Mode.GlobalJob != nil; job && s.UpdateConfig != nil {
		return fmt.Errorf("%s.deploy.update_config: a job takes no update_config: swarm refuses it: remove update_config", key)
	}
	if err := checkUpdateConfig(key+".deploy.update_config", s.UpdateConfig); err != nil {
		return err
	}
	if err := checkUpdateConfig(key+".deploy.rollback_config", s.RollbackConfig); err != nil {
		return err
	}
	if e := s.EndpointSpec; e != nil && e.Mode == swarm.ResolutionModeDNSRR {
		for _, pc := range e.Ports {
			if pc.PublishMode == "" || pc.PublishMode == swarm.PortConfigPublishModeIngress {
				return fmt.Errorf("%s.ports: port %d is published through the routing mesh (mode: ingress), which swarm refuses with endpoint_mode: dnsrr: publish it with mode: host, or use endpoint_mode: vip", key, pc.PublishedPort)
			}
		}
	}
	return nil
}

// checkTask applies swarm's rules to a service's task template.
func checkTask(key string, t swarm.TaskSpec) error {
	if r := t.Resources; r != nil {
		if err := checkResources(key+".deploy.resources.limits", r.Limits); err != nil {
			return err
		}
		if r.Reservations != nil {
			if err := checkResources(key+".deploy.resources.reservations", &swarm.Limit{NanoCPUs: r.Reservations.NanoCPUs, MemoryBytes: r.Reservations.MemoryBytes}); err != nil {
				return err
			}
		}
	}
	if rp := t.RestartPolicy; rp != nil {
		if rp.Delay != nil && *rp.Delay < 0 {
			return fmt.Errorf("%s.deploy.restart_policy.delay: negative: swarm refuses it: write a duration of 0 or more", key)
		}
		if rp.Window != nil && *rp.Window < 0 {
			return fmt.Errorf("%s.deploy.restart_policy.window: negative: swarm refuses it: write a duration of 0 or more", key)
		}
	}
	if cs := t.ContainerSpec; cs != nil {
		if _, err := reference.ParseNormalizedNamed(cs.Image); err != nil {
			return fmt.Errorf("%s.image: %q is not a repository and tag swarm accepts (%v): name an image like registry.example.com/app:1.2 (an image ID is not one)", key, cs.Image, err)
		}
		if err := checkHealthcheck(key+".healthcheck", cs.Healthcheck); err != nil {
			return err
		}
	}
	for _, n := range t.Networks {
		if n.Target == "ingress" {
			return fmt.Errorf("%s.networks: the ingress network: swarm refuses to attach a service to it explicitly: publish ports instead (ports:), or use an overlay network of your own", key)
		}
	}
	return nil
}

// checkUpdateConfig applies swarm's rules to an update or rollback config.
func checkUpdateConfig(at string, c *swarm.UpdateConfig) error {
	switch {
	case c == nil:
		return nil
	case c.Delay < 0:
		return fmt.Errorf("%s.delay: negative: swarm refuses it: write a duration of 0 or more", at)
	case c.Monitor < 0:
		return fmt.Errorf("%s.monitor: negative: swarm refuses it: write a duration of 0 or more", at)
	case c.MaxFailureRatio < 0 || c.MaxFailureRatio > 1:
		return fmt.Errorf("%s.max_failure_ratio: %g: swarm takes a ratio from 0 to 1", at, c.MaxFailureRatio)
	}
	return nil
}

func checkResources(at string, r *swarm.Limit) error {
	if r == nil {
		return nil
	}
	if r.NanoCPUs != 0 && r.NanoCPUs < minNanoCPUs {
		return fmt.Errorf("%s.cpus: %g: swarm takes at least 0.001", at, float64(r.NanoCPUs)/1e9)
	}
	if r.MemoryBytes != 0 && r.MemoryBytes < minMemoryBytes {
		return fmt.Errorf("%s.memory: %d bytes: swarm takes at least 4M", at, r.MemoryBytes)
	}
	return nil
}

// checkHealthcheck is swarmkit's validateHealthCheck: each duration is 0
// (the default) or at least 1ms; retries are not negative.
func checkHealthcheck(at string, hc *container.HealthConfig) error {
	if hc == nil {
		return nil
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"interval", hc.Interval}, {"timeout", hc.Timeout}, {"start_period", hc.StartPeriod}, {"start_interval", hc.StartInterval}} {
		if d.v != 0 && d.v < minDuration {
			return fmt.Errorf("%s.%s: %s: swarm takes 0 or at least 1ms", at, d.key, d.v)
		}
	}
	if hc.Retries < 0 {
		return fmt.Errorf("%s.retries: negative: swarm refuses it", at)
	}
	return nil
}
