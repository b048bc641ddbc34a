//go:build e2e

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// seedCompose has the shape of the Docker secrets guide's example (a web
// app and its database, version 3.8, depends_on as a list, an external
// secret beside one from a file): the first file a Swarm operator points
// stackctl at. It also carries what docker takes and swarm ignores.
const seedCompose = `version: '3.8'
services:
  postgres:
    image: {{image}}
    command: [sleep]
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [db_password, db_root_password]
  webapp:
    image: {{image}}
    command: [sleep]
    depends_on: [postgres]
    links: ["postgres:db"]
    container_name: webapp
    extra_hosts: ["zeta:10.0.0.2", "alpha:10.0.0.1", "zeta:10.0.0.3"]
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [db_password]
    configs: [greeting]
  debug:
    image: {{image}}
    command: [sleep]
    profiles: [debug]
    deploy: {endpoint_mode: dnsrr}
secrets:
  db_password:
    file: ./db_password.txt
  db_root_password:
    external: true
    name: ${ROOT_SECRET}
configs:
  greeting:
    template_driver: golang
    file: ./greeting.tmpl
`

// TestSeedExampleDeploys: the seed file deploys, its containers read the
// secret and the rendered template, swarm-ignored keys are warned about
// once, an inactive profile's service is named, and a second plan is
// empty; a change to the template's text is a new version, rolled out.
func TestSeedExampleDeploys(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	ctx := context.Background()
	root := "e2e-root-" + randomHex(4)
	resp, err := api.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: root}, Data: []byte("root-pw")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeEventually(func() error { _, err := api.SecretRemove(ctx, resp.ID, client.SecretRemoveOptions{}); return err })
	})
	dir := writeDir(t, map[string]string{
		"compose.yml":     seedCompose,
		"db_password.txt": "seed-pw-51c2",
		"greeting.tmpl":   `hello from {{ .Service.Name }}`,
	})
	env := []string{"ROOT_SECRET=" + root}

	r := stackctl(t, dir, env, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"services.webapp.links", "services.webapp.container_name", "services.debug: not deployed", "--profile debug"} {
		if strings.Count(r.stderr, want) != 1 {
			t.Errorf("stderr names %q %d times, want once:\n%s", want, strings.Count(r.stderr, want), r.stderr)
		}
	}
	if strings.Contains(r.stderr, "level=") {
		t.Errorf("a library's log line reached stderr:\n%s", r.stderr)
	}
	for _, got := range readInContainers(t, api, stack+"_webapp", "/run/secrets/db_password") {
		if got != "seed-pw-51c2" {
			t.Errorf("webapp reads a wrong db_password (%d bytes)", len(got))
		}
	}
	for _, got := range readInContainers(t, api, stack+"_postgres", "/run/secrets/db_root_password") {
		if got != "root-pw" {
			t.Errorf("postgres reads a wrong external secret (%d bytes)", len(got))
		}
	}
	for _, got := range readInContainers(t, api, stack+"_webapp", "/greeting") {
		if got != "hello from "+stack+"_webapp" {
			t.Errorf("the templated config reads %q, want it rendered by swarm", got)
		}
	}
	web := inspectService(t, api, stack+"_webapp")
	if got := strings.Join(web.Spec.TaskTemplate.ContainerSpec.Hosts, ","); got != "10.0.0.2 zeta,10.0.0.1 alpha,10.0.0.3 zeta" {
		t.Errorf("extra_hosts = %s, want them in the file's order", got)
	}
	if _, err := api.ServiceInspect(ctx, stack+"_debug", client.ServiceInspectOptions{}); err == nil {
		t.Error("the debug service of an inactive profile was deployed")
	}

	r = stackctl(t, dir, env, "plan", "-c", "compose.yml", stack)
	if r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Fatalf("plan after deploy is not empty: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	writeInto(t, dir, map[string]string{"greeting.tmpl": `bye from {{ .Service.Name }}`})
	r = stackctl(t, dir, env, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("redeploy: exit %d\n%s", r.code, r.stderr)
	}
	for _, got := range readInContainers(t, api, stack+"_webapp", "/greeting") {
		if got != "bye from "+stack+"_webapp" {
			t.Errorf("after the template changed the config reads %q", got)
		}
	}

	r = stackctl(t, dir, env, "deploy", "--profile", "debug", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("deploy --profile debug: exit %d\n%s", r.code, r.stderr)
	}
	inspectService(t, api, stack+"_debug")
}
