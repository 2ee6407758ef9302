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
//     gamma, the trainer's log link, or regression), the binding of the model's columns to the bound feature-set
//     version by name, and, when the uploader sends golden rows with their own
//     tool's predictions, parity, checked on the canonical artifact that serving
//     loads (a gamma model's predictions are amounts, compared as their logs).
//   - A model binds by name and keeps its own column order. Each column of the file
//     names a feature of the set (a subset, in any order, each once; names not in
//     the set and repeated names are named in the error). A file without feature
//     names (XGBoost legacy binary, XGBoost JSON from unnamed arrays: f0, f1, ...;
//     LightGBM's Column_N) needs Upload.Columns, the feature of each column in the
//     file's order. The version records the model's order (Version.Columns) beside
//     the set's features (Version.Features); parity rows, OIP tensors and the rows
//     serving builds from online indicators are all in the model's order. A bare
//     set name (FeatureSetVersion 0) binds to the latest version, recorded exactly.
//   - The parity gate is the platform's: rows are compared on margins, absolute
//     plus relative to the magnitude of the summed trees, at most
//     Options.MaxParityTolerance (default 1e-4 + 1e-5; float32 XGBoost passes, a
//     model 0.02 off in probability does not). An upload may tighten the
//     tolerances, never loosen them. The version records rows, the largest margin
//     difference and the tolerances used.
//   - Feature sets are the catalog's built-in ones (FeatureSets, visible to all)
//     and those institutions publish at run time (PublishFeatureSet): an ordered
//     list of catalog indicators and request features the caller supplies at
//     request time (features.SetDefinition). A published version is immutable and
//     numbered per name; a name belongs to the institution that published it
//     first, and built-in names are taken. A private set is unknown to other
//     institutions, for reading and for binding; a shared one is visible to all.
//     internal/access decides (featureset.publish, featureset.read); refusals are
//     audited. Registration resolves the set by features.SetRef as its caller
//     sees it.
//   - CreateAndRegister creates a model and its first version in one transaction:
//     a refused upload leaves no model, version or object.
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
//	m, v, err := reg.CreateAndRegister(ctx, p, registry.NewModel{Name: "pd-smb", Task: registry.TaskPD},
//		registry.Upload{Data: file, FeatureSet: "pd", FeatureSetVersion: 1, Parity: &golden})
//	v2, err := reg.Register(ctx, p, "pd-smb", registry.Upload{Data: legacyBinary, FeatureSet: "pd",
//		Columns: []string{"tax.sales.sum_12m", "loan.balance.last_3m", ...}}) // latest pd, the file's own order
//	pr, err := reg.RequestPromotion(ctx, p, "pd-smb", "champion", v.Version, "validated")
//	_, err = reg.Approve(ctx, approver, pr.ID, "ok")
//	champion, err := reg.Resolve(ctx, p, "pd-smb", "champion")
//	set, err := reg.PublishFeatureSet(ctx, p, *def) // def from features.ParseSetDefinition
//
// The HTTP API is in registry/httpapi.
package registry
