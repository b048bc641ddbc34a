package compose

import (
	"errors"
	"fmt"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/mount"
)

// mounts are the service's volumes:, in the file's order, as docker's
// convert.Volumes makes them.
func (ns stackNS) mounts(vols []composetypes.ServiceVolumeConfig, defined map[string]composetypes.VolumeConfig) ([]mount.Mount, error) {
	out := make([]mount.Mount, 0, len(vols))
	for _, v := range vols {
		m, err := ns.mount(v, defined)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// mountRule is what docker's convertVolumeToMount checks for one mount
// type before it converts: whether the source must be set or empty, and
// which other types' options it refuses, in the order docker checks them
// (the first one found is the error).
type mountRule struct {
	source  sourceRule
	refuses []string
}

type sourceRule int

const (
	sourceAny sourceRule = iota
	sourceRequired
	sourceEmpty
)

// mountRules follow handleVolumeToMount, handleBindToMount, ... in
// docker/cli's cli/compose/convert/volume.go. "images" is docker's own
// word in the volume type's message; npipe does not check cluster
// options, nor cluster image ones.
var mountRules = map[string]mountRule{
	"volume":  {sourceAny, []string{"images", "tmpfs", "bind", "cluster"}},
	"":        {sourceAny, []string{"images", "tmpfs", "bind", "cluster"}},
	"image":   {sourceRequired, []string{"volume", "bind", "tmpfs", "cluster"}},
	"bind":    {sourceRequired, []string{"volume", "image", "tmpfs", "cluster"}},
	"tmpfs":   {sourceEmpty, []string{"bind", "volume", "image", "cluster"}},
	"npipe":   {sourceRequired, []string{"volume", "image", "tmpfs"}},
	"cluster": {sourceRequired, []string{"tmpfs", "bind", "volume"}},
}

// hasOptions says whether the mount sets the options block named opt.
func hasOptions(v composetypes.ServiceVolumeConfig, opt string) bool {
	switch opt {
	case "volume":
		return v.Volume != nil
	case "image", "images":
		return v.Image != nil
	case "bind":
		return v.Bind != nil
	case "tmpfs":
		return v.Tmpfs != nil
	case "cluster":
		return v.Cluster != nil
	}
	return false
}

func (ns stackNS) mount(v composetypes.ServiceVolumeConfig, defined map[string]composetypes.VolumeConfig) (mount.Mount, error) {
	rule, ok := mountRules[v.Type]
	if !ok {
		return mount.Mount{}, errors.New("volume type must be volume, bind, tmpfs, npipe, or cluster")
	}
	switch {
	case rule.source == sourceRequired && v.Source == "":
		return mount.Mount{}, fmt.Errorf("invalid %s source, source cannot be empty", v.Type)
	case rule.source == sourceEmpty && v.Source != "":
		return mount.Mount{}, fmt.Errorf("invalid %s source, source must be empty", v.Type)
	}
	for _, opt := range rule.refuses {
		if hasOptions(v, opt) {
			return mount.Mount{}, fmt.Errorf("%s options are incompatible with type %s", opt, orKey(v.Type, "volume"))
		}
	}
	// What every type keeps as written (docker's createMountFromVolume).
	m := mount.Mount{
		Type:        mount.Type(v.Type),
		Source:      v.Source,
		Target:      v.Target,
		ReadOnly:    v.ReadOnly,
		Consistency: mount.Consistency(v.Consistency),
	}
	switch v.Type {
	case "volume", "":
		return ns.volumeMount(m, v, defined)
	case "cluster":
		return ns.clusterMount(m, defined)
	case "image":
		if v.Image != nil {
			m.ImageOptions = &mount.ImageOptions{Subpath: v.Image.Subpath}
		}
	case "bind", "npipe":
		if v.Bind != nil {
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
		}
	case "tmpfs":
		if v.Tmpfs != nil {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: v.Tmpfs.Size}
		}
	}
	return m, nil
}

// volumeMount is a volume mount (docker's handleVolumeToMount): an
// anonymous one as written; a named one must be defined, is named as the
// stack names it, and, unless external, carries the stack's label and
// the volume's driver.
func (ns stackNS) volumeMount(m mount.Mount, v composetypes.ServiceVolumeConfig, defined map[string]composetypes.VolumeConfig) (mount.Mount, error) {
	if v.Source == "" {
		return m, nil // docker ignores volume: options (nocopy, subpath) here
	}
	vol, ok := defined[v.Source]
	if !ok {
		return mount.Mount{}, &undefinedError{kind: "volume", name: v.Source}
	}
	m.Source = ns.named(v.Source, vol.Name)
	m.VolumeOptions = &mount.VolumeOptions{}
	if v.Volume != nil {
		m.VolumeOptions.NoCopy, m.VolumeOptions.Subpath = v.Volume.NoCopy, v.Volume.Subpath
	}
	if vol.External.External {
		return m, nil
	}
	m.VolumeOptions.Labels = ns.labeled(vol.Labels)
	if vol.Driver != "" || vol.DriverOpts != nil {
		m.VolumeOptions.DriverConfig = &mount.Driver{Name: vol.Driver, Options: vol.DriverOpts}
	}
	return m, nil
}

// clusterMount is a cluster volume mount (docker's handleClusterToMount):
// a "group:" source names a volume group, left as written; any other
// must be a defined volume, named as the stack names it.
func (ns stackNS) clusterMount(m mount.Mount, defined map[string]composetypes.VolumeConfig) (mount.Mount, error) {
	m.ClusterOptions = &mount.ClusterOptions{}
	if strings.HasPrefix(m.Source, "group:") {
		return m, nil
	}
	vol, ok := defined[m.Source]
	if !ok {
		return mount.Mount{}, &undefinedError{kind: "volume", name: m.Source}
	}
	m.Source = ns.named(m.Source, vol.Name)
	return m, nil
}
