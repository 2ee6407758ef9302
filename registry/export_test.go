package registry

// SetAfterArtifacts installs a hook that runs between an upload's artifact writes
// and its metadata commit, to inject a crash there.
func (r *Registry) SetAfterArtifacts(f func() error) { r.afterArtifacts = f }
