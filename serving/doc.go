// Package serving answers credit questions for one company or a whole region: it loads
// registered models through leaves, follows registry aliases with atomic hot swaps,
// applies versioned decision policies (rating, colour code, pre-credit limit, inspection
// tier), explains each decision with reason codes, and checks consent and audits every
// query. It never writes to the registry.
//
// Invariants:
//   - A Scorer is bound to one feature-set version; LoadScorer refuses a model whose
//     registry binding or feature names differ from the set, and every call checks the
//     row length first (leaves silently returns 0 for a wrong one).
//   - A task's model reads its task's online feature set, or a set an institution
//     published at run time (catalog indicators and request features): Install
//     refuses one whose indicators no online set holds, and a decision builds its
//     row in the set's order from the online vectors and the request's features,
//     each checked against the set (Snapshot.CheckRequestFeatures; a category is
//     its index in the set's published list). A model that reads request features
//     is never run over a whole population.
//   - Models holds an immutable Snapshot of the three models (pd, violation, limit)
//     behind an atomic pointer: a request takes one snapshot, so it never mixes
//     versions, and a swap never fails a request.
//   - A bank sees a decision only under the company's active consent grant; a refusal is
//     audited, and a decision is returned only after its audit record is written.
//   - A decision carries the as-of date of every vector it used (FeaturesAsOf, and AsOf
//     the oldest of them), and so does its audit record: while an online store falls
//     back to an older snapshot, the answers say so.
//   - Every error wraps one of the package's sentinels; each transport maps them to
//     status codes in one place (serving/httpapi, serving/grpcapi).
//   - Metrics live in the Prometheus registry each Metrics holds, never the global
//     one; their names, types and labels are listed on Metrics and kept stable.
//   - Spans use the OpenTelemetry API alone (the SDK is internal/telemetry's): an
//     assessment is an "assess" span with its steps as children, started from the
//     provider of the caller's recording span; serving never starts a trace of its
//     own, so without a recording span they cost nothing. Spans carry the assessment
//     id, never the company code.
//
// Layout: the root holds the domain (Scorer, Models, Service, policy use, reasons,
// screening, follower, metrics) and the small interfaces it needs (FeatureSource,
// Authorizer, Auditor, ModelSource, PopulationSource, ScreeningQueue). Adapters live in subpackages
// named after what they adapt: serving/features (online store, catalog, snapshots),
// serving/access (API keys and consent), serving/registry (aliases, artifacts, change
// feed), serving/screenjobs (screenings as durable jobs of internal/jobs, so serving
// itself never depends on River). serving/policy is the decision policy, serving/oip the Open Inference Protocol
// v2, serving/httpapi and serving/grpcapi the transports, serving/servingtest an
// in-memory environment for tests and benchmarks.
//
// Usage:
//
//	models, _ := serving.NewModels(map[serving.Task]serving.FeatureSet{...})
//	follower, _ := serving.NewFollower(serving.FollowerOptions{Source: src, Models: models, Bindings: b})
//	go follower.Run(ctx)
//	svc, _ := serving.New(serving.Options{Models: models, Features: online, Policy: pol,
//		Authorizer: auth, Auditor: auditLog})
//	d, err := svc.Assess(ctx, principal, serving.Request{Company: "91350100M000100Y43"})
//	// d.PD, d.Score, d.Rating, d.Colour, d.Limit, d.Violation, d.InspectionTier, d.Reasons
package serving
