// Package httpapi serves the model registry as an HTTP JSON API (net/http with
// method and path patterns). Every request is authenticated by API key
// ("Authorization: Bearer <key>" or "X-API-Key: <key>") through internal/access;
// errors are mapped to a status and a code in one place (statusOf) and answered in
// the platform's one JSON shape (internal/httperr),
// {"error":{"code":"...","message":"..."}}:
//
//	400 invalid_input        malformed request
//	401 unauthenticated      no, unknown or revoked key
//	403 forbidden            missing role, not owner
//	404 not_found            unknown model, version, alias, promotion
//	409 conflict             name taken, duplicate upload, immutable version
//	413 body_too_large       upload too large
//	422 validation_failed    the model file failed validation (details.parity
//	                         holds the parity report when parity failed)
//	500 corrupt_artifact     a version's artifact is missing or fails its sha256:
//	                         named (model, version, digest) and logged; not 503,
//	                         since artifacts are immutable and a retry cannot help
//	503 store_unavailable    the object store cannot be reached (Retry-After)
//	503 database_unavailable the metadata database cannot be reached (Retry-After)
//	500 internal             anything else (logged, not shown)
//
// Routes, all under /v1/registry:
//
//	GET    /models                                   list visible models
//	POST   /models                                   create {name, task, description, shared}
//	GET    /models/{name}                            one model with aliases
//	PATCH  /models/{name}                            change {description, shared}
//	GET    /models/{name}/versions                   versions
//	POST   /models/{name}/versions                   upload: raw body + query, or multipart "model" + "meta"
//	GET    /models/{name}/versions/{version}         one version
//	DELETE /models/{name}/versions/{version}         always 409: versions are immutable
//	GET    /models/{name}/versions/{version}/artifact[?original=true]
//	                                                 the file, for a caller cleared for every
//	                                                 indicator it reads (else 403, audited)
//	GET    /models/{name}/aliases                    aliases
//	GET    /models/{name}/aliases/{alias}            the version an alias points at
//	PUT    /models/{name}/aliases/{alias}            move an ungated alias {version}
//	GET    /models/{name}/promotions[?state=]        promotion requests
//	POST   /models/{name}/promotions                 request {alias, version, note}
//	GET    /promotions/{id}
//	POST   /promotions/{id}/approve|reject|withdraw  {note}
//	GET    /models/{name}/history[?limit=]           audit records of the model
//	GET    /changes?after=N[&wait=30s][&limit=]      change feed; wait long-polls
//	GET    /changes/stream?after=N                   the feed as server-sent events (id = seq)
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/registry"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Options configures the handler. The zero value is valid.
type Options struct {
	// Logger receives server errors (5xx); nil means slog.Default().
	Logger *slog.Logger
	// MaxMetaBytes bounds the JSON parts of a request (bodies, the "meta" part
	// of an upload with its parity rows). Default 32 MiB.
	MaxMetaBytes int64
	// KeepAlive is how often an idle event stream sends a comment line. Default 25s.
	KeepAlive time.Duration
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxMetaBytes <= 0 {
		o.MaxMetaBytes = 32 << 20
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 25 * time.Second
	}
}

var (
	// errBadRequest marks malformed requests detected here (JSON, query parameters).
	errBadRequest = errors.New("httpapi: bad request")
	// errNoRoute: no endpoint has the method and path.
	errNoRoute = errors.New("httpapi: not found")
)

type server struct {
	reg  *registry.Registry
	auth Authenticator
	opts Options
}

// New returns the registry API handler.
func New(reg *registry.Registry, auth Authenticator, opts Options) http.Handler {
	opts.EnsureDefaults()
	s := &server{reg: reg, auth: auth, opts: opts}
	mux := http.NewServeMux()
	const p = "/v1/registry"
	mux.HandleFunc("GET "+p+"/models", s.wrap(s.listModels))
	mux.HandleFunc("POST "+p+"/models", s.wrap(s.createModel))
	mux.HandleFunc("GET "+p+"/models/{name}", s.wrap(s.getModel))
	mux.HandleFunc("PATCH "+p+"/models/{name}", s.wrap(s.updateModel))
	mux.HandleFunc("GET "+p+"/models/{name}/versions", s.wrap(s.listVersions))
	mux.HandleFunc("POST "+p+"/models/{name}/versions", s.wrap(s.upload))
	mux.HandleFunc("GET "+p+"/models/{name}/versions/{version}", s.wrap(s.getVersion))
	mux.HandleFunc("DELETE "+p+"/models/{name}/versions/{version}", s.wrap(s.deleteVersion))
	mux.HandleFunc("GET "+p+"/models/{name}/versions/{version}/artifact", s.wrap(s.artifact))
	mux.HandleFunc("GET "+p+"/models/{name}/aliases", s.wrap(s.listAliases))
	mux.HandleFunc("GET "+p+"/models/{name}/aliases/{alias}", s.wrap(s.resolve))
	mux.HandleFunc("PUT "+p+"/models/{name}/aliases/{alias}", s.wrap(s.setAlias))
	mux.HandleFunc("GET "+p+"/models/{name}/promotions", s.wrap(s.listPromotions))
	mux.HandleFunc("POST "+p+"/models/{name}/promotions", s.wrap(s.requestPromotion))
	mux.HandleFunc("GET "+p+"/promotions/{id}", s.wrap(s.getPromotion))
	mux.HandleFunc("POST "+p+"/promotions/{id}/{decision}", s.wrap(s.decide))
	mux.HandleFunc("GET "+p+"/models/{name}/history", s.wrap(s.history))
	mux.HandleFunc("GET "+p+"/changes", s.wrap(s.changes))
	mux.HandleFunc("GET "+p+"/changes/stream", s.wrap(s.stream))
	mux.HandleFunc("GET "+p+"/feature-sets", s.wrap(s.listSets))
	mux.HandleFunc("POST "+p+"/feature-sets", s.wrap(s.publishSet))
	mux.HandleFunc("GET "+p+"/feature-sets/{name}", s.wrap(s.getSet))
	mux.HandleFunc("GET "+p+"/feature-sets/{name}/{version}", s.wrap(s.getSet))
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, fmt.Errorf("%w: no endpoint %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return mux
}

// handler is an authenticated endpoint: it returns the value to send as JSON
// (with status 200, or 201 for *created) or an error.
type handler func(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error)

// created marks a response as 201 Created.
type created struct{ v any }

// raw is a response already written by the handler.
type raw struct{}

func (s *server) wrap(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r.Context(), apiKey(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := h(w, r, p)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch x := v.(type) {
		case raw:
		case created:
			httperr.JSON(w, http.StatusCreated, x.v)
		default:
			httperr.JSON(w, http.StatusOK, v)
		}
	}
}

func apiKey(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// statusOf is the one mapping from errors to an HTTP status and a stable code.
func statusOf(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, access.ErrConsentRequired):
		return http.StatusForbidden, "consent_required"
	case errors.Is(err, registry.ErrForbidden), errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, registry.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, registry.ErrTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, registry.ErrValidation):
		return http.StatusUnprocessableEntity, "validation_failed"
	case errors.Is(err, registry.ErrInvalid), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, registry.ErrCorruptArtifact):
		return http.StatusInternalServerError, "corrupt_artifact"
	case errors.Is(err, blob.ErrUnavailable):
		return http.StatusServiceUnavailable, "store_unavailable"
	case errors.Is(err, metadb.ErrUnavailable):
		return http.StatusServiceUnavailable, "database_unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// ErrorDetails is the details object of an error answer: the parity report of an
// upload whose parity rows failed.
type ErrorDetails struct {
	Parity *registry.ParityReport `json:"parity,omitempty"`
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away (e.g. during a long poll): nobody to answer
	}
	status, code := statusOf(err)
	e := httperr.Error{Code: code, Message: err.Error()}
	var pe *registry.ParityError
	if errors.As(err, &pe) {
		e.Details = ErrorDetails{Parity: &pe.Report}
	}
	if status >= http.StatusInternalServerError {
		s.opts.Logger.Error("registry api", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	switch code { // details of these are logged, not sent
	case "store_unavailable":
		e.Message = "the object store cannot be reached; retry later"
	case "database_unavailable":
		e.Message = "the metadata database cannot be reached; retry later"
	case "internal":
		e.Message = "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="xinyi"`)
	}
	httperr.Write(w, status, e)
}

// decodeJSON reads a bounded JSON body into v, refusing unknown fields.
func (s *server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.opts.MaxMetaBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: JSON body: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: JSON body has data after the object", errBadRequest)
	}
	return nil
}

func intParam(v, name string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q is not a non-negative integer", errBadRequest, name, v)
	}
	return n, nil
}

func (s *server) listModels(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	ms, err := s.reg.Models(r.Context(), p)
	if ms == nil {
		ms = []registry.Model{}
	}
	return map[string]any{"models": ms}, err
}

func (s *server) listSets(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	sets, err := s.reg.FeatureSetDefinitions(r.Context(), p)
	if sets == nil {
		sets = []features.SetDefinition{}
	}
	return map[string]any{"feature_sets": sets}, err
}

// publishSet publishes the body (a features.SetDefinition in JSON) as the next
// version of its name; 201 with the stored definition.
func (s *server) publishSet(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	var d features.SetDefinition
	if err := s.decodeJSON(w, r, &d); err != nil {
		return nil, err
	}
	d, err := s.reg.PublishFeatureSet(r.Context(), p, d)
	return created{d}, err
}

// getSet answers GET feature-sets/{name} (the latest version) and
// feature-sets/{name}/vN.
func (s *server) getSet(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	ref := r.PathValue("name")
	if v := r.PathValue("version"); v != "" {
		ref += "/" + v
	}
	sr, err := features.ParseSetRef(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return s.reg.FeatureSetDefinition(r.Context(), p, sr)
}

func (s *server) createModel(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	var nm registry.NewModel
	if err := s.decodeJSON(w, r, &nm); err != nil {
		return nil, err
	}
	m, err := s.reg.CreateModel(r.Context(), p, nm)
	return created{m}, err
}

func (s *server) getModel(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	return s.reg.Model(r.Context(), p, r.PathValue("name"))
}

func (s *server) updateModel(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	var u registry.ModelUpdate
	if err := s.decodeJSON(w, r, &u); err != nil {
		return nil, err
	}
	return s.reg.UpdateModel(r.Context(), p, r.PathValue("name"), u)
}

func (s *server) listVersions(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	vs, err := s.reg.Versions(r.Context(), p, r.PathValue("name"))
	if vs == nil {
		vs = []registry.Version{}
	}
	return map[string]any{"versions": vs}, err
}

func (s *server) version(r *http.Request) (int, error) {
	return intParam(r.PathValue("version"), "version")
}

func (s *server) getVersion(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	v, err := s.version(r)
	if err != nil {
		return nil, err
	}
	return s.reg.Version(r.Context(), p, r.PathValue("name"), v)
}

func (s *server) deleteVersion(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	v, err := s.version(r)
	if err != nil {
		return nil, err
	}
	return nil, s.reg.DeleteVersion(r.Context(), p, r.PathValue("name"), v)
}

func (s *server) artifact(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	v, err := s.version(r)
	if err != nil {
		return nil, err
	}
	original := r.URL.Query().Get("original") == "true"
	data, ver, err := s.reg.Download(r.Context(), p, r.PathValue("name"), v, original)
	if err != nil {
		return nil, err
	}
	digest := ver.ArtifactDigest
	if original {
		digest = ver.OriginalDigest
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("X-Content-SHA256", digest)
	w.Header().Set("ETag", `"sha256:`+digest+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return raw{}, nil
}

// upload accepts either a raw model file as the body with metadata in the query
// (feature_set as name/vN or a bare name for the latest version,
// feature_set_version, columns=a,b,c: the feature each column of the file reads,
// in the file's order, required for files without feature names; lineage_kind,
// sample, sample_version, code_version, filename), or multipart/form-data with the
// file in part "model" and a JSON registry.Upload in part "meta" ("columns",
// "parity" with "tolerance" and "tolerance_rel"). With task=pd|violation|limit
// (and optionally description, shared=true) a model that does not exist yet is
// created together with this first version, in one transaction: a refused
// upload leaves no model behind.
func (s *server) upload(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	up, err := s.parseUpload(w, r, s.reg.MaxUploadBytes())
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if task := r.URL.Query().Get("task"); task != "" {
		// Create the model with its first version, or neither.
		if _, err := s.reg.Model(r.Context(), p, name); errors.Is(err, registry.ErrNotFound) {
			nm := registry.NewModel{Name: name, Task: registry.Task(task), Description: r.URL.Query().Get("description"),
				Shared: r.URL.Query().Get("shared") == "true"}
			_, v, err := s.reg.CreateAndRegister(r.Context(), p, nm, up)
			return created{v}, err
		} else if err != nil {
			return nil, err
		}
	}
	v, err := s.reg.Register(r.Context(), p, name, up)
	return created{v}, err
}

// parseUpload reads an upload request (either form) into an Upload, refusing
// model files over limit bytes.
func (s *server) parseUpload(w http.ResponseWriter, r *http.Request, limit int64) (registry.Upload, error) {
	var up registry.Upload
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		err := s.readMultipart(w, r, params["boundary"], limit, &up)
		return up, err
	}
	if err := uploadFromQuery(r, &up); err != nil {
		return up, err
	}
	data, err := registry.ReadUpload(http.MaxBytesReader(w, r.Body, limit+1), limit)
	up.Data = data
	return up, err
}

func uploadFromQuery(r *http.Request, up *registry.Upload) error {
	q := r.URL.Query()
	if v := q.Get("feature_set"); v != "" {
		ref, err := features.ParseSetRef(v)
		if err != nil {
			return fmt.Errorf("%w: feature_set: %v", errBadRequest, err)
		}
		up.FeatureSet, up.FeatureSetVersion = ref.Name, ref.Version
	}
	if v := q.Get("feature_set_version"); v != "" {
		n, err := intParam(v, "feature_set_version")
		if err != nil {
			return err
		}
		up.FeatureSetVersion = n
	}
	for _, k := range []string{"columns", "features"} { // features: the former name
		if f := q.Get(k); f != "" && len(up.Columns) == 0 {
			up.Columns = strings.Split(f, ",")
		}
	}
	up.Lineage = registry.Lineage{Kind: q.Get("lineage_kind"), Sample: q.Get("sample"), CodeVersion: q.Get("code_version"), Filename: q.Get("filename")}
	if v := q.Get("sample_version"); v != "" {
		n, err := intParam(v, "sample_version")
		if err != nil {
			return err
		}
		up.Lineage.SampleVersion = n
	}
	return nil
}

func (s *server) readMultipart(w http.ResponseWriter, r *http.Request, boundary string, limit int64, up *registry.Upload) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart body without boundary", errBadRequest)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+s.opts.MaxMetaBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	var haveModel bool
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return fmt.Errorf("%w: multipart: %v", errBadRequest, err)
		}
		switch part.FormName() {
		case "model":
			data, err := registry.ReadUpload(part, limit)
			if err != nil {
				return err
			}
			up.Data, haveModel = data, true
			if up.Lineage.Filename == "" {
				up.Lineage.Filename = part.FileName()
			}
		case "meta":
			var meta registry.Upload
			dec := json.NewDecoder(io.LimitReader(part, s.opts.MaxMetaBytes))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&meta); err != nil {
				return fmt.Errorf("%w: part \"meta\": %v", errBadRequest, err)
			}
			data, filename := up.Data, up.Lineage.Filename
			*up = meta
			up.Data = data
			if up.Lineage.Filename == "" {
				up.Lineage.Filename = filename
			}
		default:
			return fmt.Errorf("%w: unknown multipart part %q (want model and meta)", errBadRequest, part.FormName())
		}
		part.Close()
	}
	if !haveModel {
		return fmt.Errorf("%w: multipart upload has no \"model\" part", errBadRequest)
	}
	return nil
}

func (s *server) listAliases(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	as, err := s.reg.Aliases(r.Context(), p, r.PathValue("name"))
	if as == nil {
		as = []registry.Alias{}
	}
	return map[string]any{"aliases": as}, err
}

func (s *server) resolve(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	return s.reg.Resolve(r.Context(), p, r.PathValue("name"), r.PathValue("alias"))
}

func (s *server) setAlias(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	var body struct {
		Version int `json:"version"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return nil, err
	}
	return s.reg.SetAlias(r.Context(), p, r.PathValue("name"), r.PathValue("alias"), body.Version)
}

func (s *server) listPromotions(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	prs, err := s.reg.Promotions(r.Context(), p, r.PathValue("name"), r.URL.Query().Get("state"))
	if prs == nil {
		prs = []registry.Promotion{}
	}
	return map[string]any{"promotions": prs}, err
}

func (s *server) requestPromotion(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	var body struct {
		Alias   string `json:"alias"`
		Version int    `json:"version"`
		Note    string `json:"note"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return nil, err
	}
	pr, err := s.reg.RequestPromotion(r.Context(), p, r.PathValue("name"), body.Alias, body.Version, body.Note)
	return created{pr}, err
}

func (s *server) promotionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: promotion id %q", errBadRequest, r.PathValue("id"))
	}
	return id, nil
}

func (s *server) getPromotion(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	id, err := s.promotionID(r)
	if err != nil {
		return nil, err
	}
	return s.reg.Promotion(r.Context(), p, id)
}

func (s *server) decide(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	id, err := s.promotionID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &body); err != nil {
			return nil, err
		}
	}
	switch r.PathValue("decision") {
	case "approve":
		return s.reg.Approve(r.Context(), p, id, body.Note)
	case "reject":
		return s.reg.Reject(r.Context(), p, id, body.Note)
	case "withdraw":
		return s.reg.Withdraw(r.Context(), p, id, body.Note)
	}
	return nil, fmt.Errorf("%w: unknown decision %q (want approve, reject or withdraw)", registry.ErrNotFound, r.PathValue("decision"))
}

func (s *server) history(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := intParam(v, "limit")
		if err != nil {
			return nil, err
		}
		limit = n
	}
	recs, err := s.reg.History(r.Context(), p, r.PathValue("name"), limit)
	if err != nil {
		return nil, err
	}
	if recs == nil {
		return map[string]any{"records": []any{}}, nil
	}
	return map[string]any{"records": recs}, nil
}

// ChangesResponse is the body of GET /changes: the visible changes and the seq to
// pass as after next time.
type ChangesResponse struct {
	Changes []registry.Change `json:"changes"`
	Last    int64             `json:"last"`
}

func (s *server) changes(_ http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: after %q is not a non-negative integer", errBadRequest, v)
		}
		after = n
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := intParam(v, "limit")
		if err != nil {
			return nil, err
		}
		limit = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: wait %q is not a duration such as 30s", errBadRequest, v)
		}
		wait = d
	}
	cs, last, err := s.reg.WaitChanges(r.Context(), p, after, limit, wait)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []registry.Change{}
	}
	return ChangesResponse{Changes: cs, Last: last}, nil
}

// stream sends the change feed as server-sent events: "id: <seq>", "event:
// change", "data: <Change JSON>", starting after the query's after (or the
// Last-Event-ID header of a reconnecting client), with a comment line every
// KeepAlive while idle. It ends when the client goes away.
func (s *server) stream(w http.ResponseWriter, r *http.Request, p access.Principal) (any, error) {
	after := int64(0)
	v := r.URL.Query().Get("after")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: after %q is not a non-negative integer", errBadRequest, v)
		}
		after = n
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return raw{}, nil // the writer cannot stream; nothing more to do
	}
	ctx := r.Context()
	for ctx.Err() == nil {
		cs, last, err := s.reg.WaitChanges(ctx, p, after, 100, s.opts.KeepAlive)
		if err != nil {
			if ctx.Err() == nil {
				s.opts.Logger.Error("registry api: change stream", "err", err)
			}
			return raw{}, nil
		}
		for _, c := range cs {
			b, _ := json.Marshal(c)
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: %s\n\n", c.Seq, b)
		}
		if len(cs) == 0 {
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		after = last
		if err := rc.Flush(); err != nil {
			return raw{}, nil
		}
	}
	return raw{}, nil
}
