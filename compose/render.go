package compose

import (
	"bytes"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Render returns the project as a compose file that `docker stack config`
// and `docker stack deploy` read as stackctl would deploy it.
func (p *Project) Render() ([]byte, error) {
	raw, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	// docker's schema has no top-level name: the stack name is an argument.
	if root := doc.Content[0]; root.Kind == yaml.MappingNode && len(root.Content) >= 2 && root.Content[0].Value == "name" {
		root.Content = root.Content[2:]
	}
	fixForDocker(&doc, nil)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// dockerTypes are the places where docker's compose schema (3.x) wants a
// different scalar type than compose-go writes. "*" matches any key or index.
var dockerTypes = []struct {
	path []string
	tag  string
}{
	{[]string{"services", "*", "deploy", "resources", "*", "cpus"}, "!!str"},
	{[]string{"services", "*", "ports", "*", "published"}, "!!int"},
	{[]string{"services", "*", "secrets", "*", "mode"}, "!!int"},
	{[]string{"services", "*", "configs", "*", "mode"}, "!!int"},
	{[]string{"services", "*", "volumes", "*", "tmpfs", "size"}, "!!int"},
}

func fixForDocker(n *yaml.Node, path []string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			fixForDocker(c, path)
		}
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := append(path, n.Content[i].Value)
			if dropped(p) {
				continue
			}
			fixForDocker(n.Content[i+1], p)
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	case yaml.SequenceNode:
		for i, c := range n.Content {
			fixForDocker(c, append(path, strconv.Itoa(i)))
		}
	case yaml.ScalarNode:
		for _, t := range dockerTypes {
			if match(t.path, path) {
				retag(n, t.tag)
			}
		}
	}
}

// dockerDropped are keys compose-go has already resolved into others:
// env_file into environment, label_file into labels.
var dockerDropped = [][]string{
	{"services", "*", "env_file"},
	{"services", "*", "label_file"},
}

func dropped(path []string) bool {
	for _, p := range dockerDropped {
		if match(p, path) {
			return true
		}
	}
	return false
}

func match(pattern, path []string) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i := range pattern {
		if pattern[i] != "*" && pattern[i] != path[i] {
			return false
		}
	}
	return true
}

func retag(n *yaml.Node, tag string) {
	switch tag {
	case "!!str":
		n.Tag, n.Style = tag, yaml.DoubleQuotedStyle
	case "!!int":
		// Only a plain number converts: a published range ("8000-8010") stays a string.
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			n.Tag, n.Style = tag, 0
			if len(n.Value) > 1 && n.Value[0] == '0' {
				n.Value = "0o" + strconv.FormatInt(v, 8)
			}
		}
	}
}
