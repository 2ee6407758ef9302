// Package registry holds registered models and their immutable versions, aliases such as
// champion and challenger that move atomically under four-eyes approval, lineage from
// sample and feature set to artifact, validated uploads of LightGBM and XGBoost files,
// and an audit record of every change.
//
// Invariants:
//   - A version is immutable and numbered per model (1, 2, 3, ...). Its canonical
//     LightGBM text is stored at models/sha256/<digest> and the uploaded file beside
//     it at models/sha256/<digest of the upload>; both are content-addressed.
//   - Nothing is stored for an upload that fails validation: size limit, parse
//     (gbdt.Parse), the objective the task needs (pd and violation: binary; limit:
//     regression), feature names equal to the bound feature-set version (missing,
//     extra and duplicated names are named in the error) and, when the uploader
//     sends golden rows with their own tool's predictions, parity within the
//     stated tolerance, checked on the canonical artifact that serving loads. The
//     model is remapped to the feature set's column order, so serving feeds the
//     feature vector as stored.
//   - Artifacts are written before the metadata commits. A crash in between leaves
//     only unreferenced objects, which Cleanup removes after Options.OrphanGrace.
//   - Aliases move in one transaction with their change-feed entry and audit record.
//     Gated aliases (champion by default) move only when a promotion requested by
//     one user is approved by a different user holding the approver role.
//   - The change feed has gap-free sequence numbers committed in order; WaitChanges
//     long-polls it. On PostgreSQL every change is announced by NOTIFY in its own
//     transaction, so waiters in other processes wake at once; polling at
//     Options.PollInterval remains the fallback (SQLite, a dropped connection).
//   - A bank sees and changes only its own models; a shared model is visible to
//     every institution but still changed only by its owner. Models a caller may
//     not see answer ErrNotFound. Platform administrators see and change all.
//   - Every change, and every refused attempt, is appended to the audit log.
//
// Usage:
//
//	reg, err := registry.Open(ctx, db, store, featureSets, auditLog, registry.Options{})
//	m, err := reg.CreateModel(ctx, p, registry.NewModel{Name: "pd-smb", Task: registry.TaskPD})
//	v, err := reg.Register(ctx, p, "pd-smb", registry.Upload{Data: file, FeatureSet: "pd", FeatureSetVersion: 1})
//	pr, err := reg.RequestPromotion(ctx, p, "pd-smb", "champion", v.Version, "validated")
//	_, err = reg.Approve(ctx, approver, pr.ID, "ok")
//	champion, err := reg.Resolve(ctx, p, "pd-smb", "champion")
//
// The HTTP API is in registry/httpapi.
package registry
