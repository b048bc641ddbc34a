package compose

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/versions"
	"gopkg.in/yaml.v3"
)

// Render returns the stack as a compose file that `docker stack config`
// and `docker stack deploy` read back to the same stack: docker's own
// encoding of what docker's loader read (as `docker stack config` prints
// it), with every $ in a value written $$, since reading it interpolates
// again.
//
// Two changes keep it readable, on its own, as the same stack: env_file is
// left out (docker's loader has already read those files into
// environment, and their relative paths would no longer resolve), and a
// version below 3.5 is written 3.5, the first whose schema has the name:
// of an external network, secret or config (docker's loader turns the
// older external: {name: x} into name: x).
func (p *Project) Render() ([]byte, error) {
	cfg := *p.Config
	cfg.Services = slices.Clone(cfg.Services)
	for i := range cfg.Services {
		cfg.Services[i].EnvFile = nil
	}
	if versions.LessThan(cfg.Version, minRenderVersion) {
		cfg.Version = minRenderVersion
	}
	var doc yaml.Node
	if err := doc.Encode(&cfg); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	escapeDollars(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// minRenderVersion is the first compose file version whose schema allows
// name: on networks, secrets and configs (docker/cli's config_schema_v3.5.json).
const minRenderVersion = "3.5"

// escapeDollars writes $ as $$ in every string value; keys are not
// interpolated, so they stay as they are.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" && strings.Contains(n.Value, "$") {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
	}
}
