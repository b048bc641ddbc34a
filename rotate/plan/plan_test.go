package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/plan/plantest"
)

func actions(p *plan.Plan) string {
	var out []string
	for _, n := range p.Networks {
		out = append(out, fmt.Sprintf("network %s %s", n.Name, n.Action))
	}
	for _, v := range p.Versions {
		out = append(out, fmt.Sprintf("%s %s %s", v.Kind, v.Key, v.Action))
	}
	for _, s := range p.Services {
		out = append(out, fmt.Sprintf("service %s %s", s.Name, s.Action))
	}
	for _, v := range p.Prune {
		out = append(out, fmt.Sprintf("prune %s", v.Name))
	}
	return strings.Join(out, "; ")
}

func TestMakePlan(t *testing.T) {
	first := plantest.Desired(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"})
	live := plantest.Applied(t, first)
	oldName := first.Versions[0].Name

	tests := []struct {
		name  string
		files map[string]string
		state *plan.State
		want  string
	}{
		{"first deploy creates everything", map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"}, plantest.EmptyState(),
			"network shop_default create; secret pw create; service shop_other create; service shop_web create"},
		{"unchanged redeploy changes nothing", map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"}, live,
			"network shop_default unchanged; secret pw unchanged; service shop_other unchanged; service shop_web unchanged"},
		{"a changed secret rolls only its service", map[string]string{"compose.yml": plantest.Compose, "pw.txt": "two"}, live,
			"network shop_default unchanged; secret pw create; service shop_other unchanged; service shop_web update"},
		{"a changed image rolls only its service", map[string]string{"compose.yml": strings.Replace(plantest.Compose, "other:1", "other:2", 1), "pw.txt": "one"}, live,
			"network shop_default unchanged; secret pw unchanged; service shop_other update; service shop_web unchanged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.MakePlan(plantest.Desired(t, tt.files), tt.state, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p); got != tt.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tt.want)
			}
		})
	}

	t.Run("the diff names the secret", func(t *testing.T) {
		p, _ := plan.MakePlan(plantest.Desired(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "two"}), live, 0)
		found := false
		for _, d := range p.Services[1].Diff {
			if strings.HasSuffix(d.Path, "SecretName") && d.From == oldName {
				found = true
			}
		}
		if !found {
			t.Errorf("diff %v does not show the secret change from %s", p.Services[1].Diff, oldName)
		}
	})
}

func TestMakePlanErrors(t *testing.T) {
	tests := []struct {
		name, compose, want string
	}{
		{"missing external network", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true}\n",
			`compose.yml: networks.ext: network "ext" is declared as external, but could not be found: create it with docker network create --driver overlay --attachable ext, or remove external: true`},
		{"missing external network by name", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true, name: shared-net}\n",
			`compose.yml: networks.ext: network "shared-net" is declared as external`},
		{"external network not swarm-scoped", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true, name: local-net}\n",
			`compose.yml: networks.ext: network "local-net" is declared as external, but its scope is "local", not "swarm"`},
		{"missing external secret", "services:\n  a:\n    image: x\n    secrets: [ext]\nsecrets:\n  ext: {external: true}\n", "external secret not found: ext"},
		{"port published by another stack", "services:\n  a:\n    image: x\n    ports: ['8080:80']\n",
			"compose.yml: services.a.ports: port 8080/tcp is already published by service blog_web: publish a different port, or free it (docker service update --publish-rm 8080 blog_web)"},
		{"port assigned to another service", "services:\n  a:\n    image: x\n    ports: ['30001:80/udp']\n",
			"compose.yml: services.a.ports: port 30001/udp is already published by service dyn"},
	}
	s := plantest.EmptyState()
	s.Networks["local-net"] = network.Summary{Network: network.Network{Name: "local-net", ID: "n1", Scope: "local"}}
	s.Services = []swarm.Service{
		{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "blog_web"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}}}},
		{ID: "s2", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "dyn"}}, Endpoint: swarm.Endpoint{Ports: []swarm.PortConfig{{Protocol: "udp", TargetPort: 53, PublishedPort: 30001}}}},
		{ID: "s3", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "hostmode"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 9090, PublishMode: swarm.PortConfigPublishModeHost}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan.MakePlan(plantest.Desired(t, map[string]string{"compose.yml": tt.compose}), s, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMakePlanKeepsOwnPorts(t *testing.T) {
	// The stack's own service keeps its port through an update, and a
	// host-mode port elsewhere does not hold the routing mesh's.
	s := plantest.EmptyState()
	s.Services = []swarm.Service{
		{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "shop_a", Labels: map[string]string{plan.LabelNamespace: "shop"}}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}}}},
		{ID: "s2", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "hostmode"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 9090, PublishMode: swarm.PortConfigPublishModeHost}}}}},
	}
	d := plantest.Desired(t, map[string]string{"compose.yml": "services:\n  a:\n    image: x\n    ports: ['8080:80', '9090:80']\n"})
	if _, err := plan.MakePlan(d, s, 0); err != nil {
		t.Fatal(err)
	}
}
