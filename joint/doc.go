// Package joint is joint modelling (联合建模): a bank brings its own loan
// outcomes, the platform joins them with government indicators the bank may
// not take away, and the bank gets a model and its evaluation: the data is
// usable but not visible.
//
// A Service works for one principal at a time, always inside its institution's
// private prefix banks/<id>/ of the object store, and enforces the controls:
//
//   - label files that probe companies (too few rows, positives or companies,
//     a few rows away from an earlier file of the bank) and files with unknown
//     codes, dates outside the snapshots, duplicate rows or too many bytes are
//     refused with a report, and nothing is written (features.BuildObservedSample);
//   - a downloaded sample holds only the indicators within the reader's
//     clearance (access.ClearanceOf, against the catalog's sensitivity), and
//     row-level outputs (sample rows, scored rows) name only companies that
//     consented to the bank; others are pseudonymised (access.Pseudonyms);
//   - evaluations are released as aggregates only, small cells withheld
//     (training.Release);
//   - a registered model carries the label file's path and digest as lineage,
//     and its file is downloadable only within the clearance of its
//     indicators (registry.Download);
//   - another institution's sample is unknown, exactly as a name nobody holds,
//     and every such refusal is audited.
//
// Usage:
//
//	svc, err := joint.New(joint.Options{Store: store, Registry: reg, Consents: acc, Authorizer: authz, PseudonymKey: key})
//	up, err := svc.Upload(ctx, p, joint.UploadRequest{Name: "loans", Set: "pd", File: "loans.csv", Data: data})
//	run, err := svc.Train(ctx, p, joint.TrainRequest{Sample: "loans"})
//	v, err := svc.Register(ctx, p, run, "pd-bank-a")
package joint
