package plan

// Labels on what stackctl makes. com.docker.stack.namespace is docker's own,
// so `docker stack ls/ps/services/rm` treat a stackctl stack as theirs.
const (
	LabelNamespace = "com.docker.stack.namespace"
	LabelImage     = "com.docker.stack.image"
	// LabelName is the swarm name a version belongs to (<stack>_<key> or name:).
	LabelName = "io.stackctl.name"
	// LabelHash is the version's keyed content hash.
	LabelHash = "io.stackctl.hash"
)
