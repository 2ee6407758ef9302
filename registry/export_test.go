package registry

import "context"

// SetAfterArtifacts installs a hook that runs between an upload's artifact writes
// and its metadata commit, to inject a crash there.
func (r *Registry) SetAfterArtifacts(f func() error) { r.afterArtifacts = f }

// ValidateUpload runs the checks of an upload without storing anything.
func (r *Registry) ValidateUpload(ctx context.Context, task Task, up Upload) error {
	_, err := r.validate(ctx, nil, task, up)
	return err
}
