// Package serving answers credit questions for one company or a whole region: it loads
// registered models through leaves, follows registry aliases with atomic hot swaps,
// applies versioned decision policies (rating, colour code, pre-credit limit, inspection
// tier), explains each decision with reason codes, and checks consent and audits every
// query. It never writes to the registry.
package serving
