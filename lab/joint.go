package lab

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab/svg"
)

// JointSample is one of a bank's private samples built from its label file.
type JointSample struct {
	Name       string
	Version    int
	Set        string
	From, To   string
	Rows       int64
	Positives  int64
	Indicators int
	Withheld   int    // indicators above the viewer's clearance, left out of a download
	LabelFile  string // sha256 of the label file
}

// JointOffender is one offending row of a refused label file.
type JointOffender struct {
	Line       int
	Code, Date string
	Problem    string // before_first, after_last, unknown_company, duplicate, label
}

// JointReport is what became of an uploaded label file.
type JointReport struct {
	Accepted bool
	Sample   string // name/vN once accepted
	File     string
	SHA256   string
	Rows, Companies, Joined, Positives,
	BeforeFirst, AfterLast, Unknown int
	ChangedRows                 int // -1: no earlier file
	FirstSnapshot, LastSnapshot string
	Train, Valid, Test          int64
	// Refusal is the rule a refused file broke (see features.ObservedReport),
	// Limit its bound, Detail the technical sentence.
	Refusal   string
	Limit     int
	Detail    string
	Offenders []JointOffender
}

// JointCell is one decile of a released evaluation table.
type JointCell struct {
	Decile     int
	Suppressed bool
	Rows       int
	Positives  int
	Rate, Lift float64
	MeanScore  float64
}

// JointEvaluation is an evaluation as released to the bank: aggregates only.
type JointEvaluation struct {
	Split             string
	Suppressed        bool
	Rows, Positives   int
	AUC, KS, Gini     float64
	Lift, Calibration []JointCell
	SuppressedCells   int
	MinRows, MinClass int
}

// JointRun is one training run on a private sample.
type JointRun struct {
	ID         string
	Sample     string
	Trees      int
	By         string
	Started    time.Time
	Eval       JointEvaluation
	Registered string // "model/vN" once registered
	Features   int
	Withheld   int // of them, above the viewer's clearance
}

// JointUpload is a label file sent from the console.
type JointUpload struct {
	Name, Set, File string
	Data            []byte
}

// Joint is joint modelling for a bank's data scientists (package joint):
// private samples from the bank's label files, downloads within clearance,
// training with released evaluations, registration. Every call is
// authorized and audited by the backend. Optional.
type Joint interface {
	JointSets() []string
	JointSamples(ctx context.Context, p Principal) ([]JointSample, error)
	// UploadLabels returns the report of an accepted or a refused file; err is
	// for everything else.
	UploadLabels(ctx context.Context, p Principal, u JointUpload) (JointReport, error)
	ExportJoint(ctx context.Context, p Principal, sample string, w io.Writer) error
	TrainJoint(ctx context.Context, p Principal, sample string) (JointRun, error)
	JointRun(ctx context.Context, p Principal, id string) (JointRun, error)
	JointRuns(ctx context.Context, p Principal) ([]JointRun, error)
	RegisterJoint(ctx context.Context, p Principal, id, model string) (string, error)
}

type jointData struct {
	Sets    []string
	Samples []JointSample
	Runs    []JointRun
	Report  *JointReport
}

func (s *Server) jointRoutes() {
	sci := route{action: access.ActionBuildSample}
	s.handle("GET /joint", sci, s.jointPage)
	s.handle("POST /joint", sci, s.jointUpload)
	s.handle("GET /joint/samples/{name}/{version}/download", sci, s.jointDownload)
	s.handle("POST /joint/train", sci, s.jointTrain)
	s.handle("GET /joint/runs/{id}", sci, s.jointRunPage)
	s.handle("POST /joint/runs/{id}/register", sci, s.jointRegister)
}

func (s *Server) jointBackend() (Joint, error) {
	if s.o.Joint == nil {
		return nil, fmt.Errorf("%w: joint modelling", ErrNotConnected)
	}
	return s.o.Joint, nil
}

func (s *Server) jointView(q *req, rep *JointReport) (jointData, error) {
	j, err := s.jointBackend()
	if err != nil {
		return jointData{}, err
	}
	d := jointData{Sets: j.JointSets(), Report: rep}
	if d.Samples, err = j.JointSamples(q.ctx(), q.principal()); err != nil {
		return d, err
	}
	d.Runs, err = j.JointRuns(q.ctx(), q.principal())
	return d, err
}

func (s *Server) jointPage(q *req) error {
	d, err := s.jointView(q, nil)
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "joint", "joint", q.lang.T("nav.joint"), d)
}

func (s *Server) jointUpload(q *req) error {
	j, err := s.jointBackend()
	if err != nil {
		return err
	}
	f := q.r.MultipartForm
	if f == nil {
		return fmt.Errorf("%w: the label file must be sent as a multipart form", ErrInvalidInput)
	}
	name := strings.TrimSpace(q.r.FormValue("name"))
	if err := validName(name); err != nil {
		return fmt.Errorf("%w (sample name)", err)
	}
	files := f.File["labels"]
	if len(files) != 1 || files[0].Size == 0 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("joint.chooseFile"))
	}
	data, err := readPart(files[0])
	if err != nil {
		return fmt.Errorf("%w: read label file: %v", ErrInvalidInput, err)
	}
	rep, err := j.UploadLabels(q.ctx(), q.principal(), JointUpload{Name: name, Set: q.r.FormValue("set"), File: files[0].Filename, Data: data})
	if err != nil {
		return err
	}
	d, err := s.jointView(q, &rep)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !rep.Accepted {
		status = http.StatusUnprocessableEntity
	}
	return s.render(q, status, "joint", "joint", q.lang.T("nav.joint"), d)
}

func (s *Server) jointDownload(q *req) error {
	j, err := s.jointBackend()
	if err != nil {
		return err
	}
	name := q.r.PathValue("name") + "/" + q.r.PathValue("version")
	var buf bytes.Buffer
	if err := j.ExportJoint(q.ctx(), q.principal(), name, &buf); err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", "attachment; filename=\""+strings.ReplaceAll(name, "/", "-")+".csv\"")
	h.Set("Cache-Control", "no-store")
	_, err = q.w.Write(buf.Bytes())
	return err
}

func (s *Server) jointTrain(q *req) error {
	j, err := s.jointBackend()
	if err != nil {
		return err
	}
	run, err := j.TrainJoint(q.ctx(), q.principal(), q.r.PostFormValue("sample"))
	if err != nil {
		return err
	}
	return s.redirect(q, "joint/runs/"+url.PathEscape(run.ID), q.lang.T("joint.trained"))
}

type jointRunData struct {
	Run         JointRun
	LiftChart   template.HTML
	Calibration template.HTML
}

func (s *Server) jointRunPage(q *req) error {
	j, err := s.jointBackend()
	if err != nil {
		return err
	}
	run, err := j.JointRun(q.ctx(), q.principal(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	d := jointRunData{Run: run}
	var bars []svg.Bar
	var cal []svg.CalibrationBin
	for _, c := range run.Eval.Lift {
		if !c.Suppressed {
			bars = append(bars, svg.Bar{Label: fmt.Sprintf(q.lang.T("joint.decileShort"), c.Decile), Value: 100 * c.Rate})
		}
	}
	for _, c := range run.Eval.Calibration {
		if !c.Suppressed {
			cal = append(cal, svg.CalibrationBin{Predicted: c.MeanScore, Observed: c.Rate, Count: int64(c.Rows)})
		}
	}
	if len(bars) > 0 {
		if d.LiftChart, err = chart(svg.Bars(bars, svg.Options{Title: q.lang.T("joint.liftChart"), XLabel: q.lang.T("joint.decileAxis"), YLabel: q.lang.T("joint.rateAxis")})); err != nil {
			return err
		}
	}
	if len(cal) > 0 {
		if d.Calibration, err = chart(svg.Calibration(cal, svg.Options{Title: q.lang.T("joint.calChart"), XLabel: q.lang.T("joint.predicted"), YLabel: q.lang.T("joint.observed")})); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "jointrun", "joint", q.lang.T("nav.joint"), d)
}

func (s *Server) jointRegister(q *req) error {
	j, err := s.jointBackend()
	if err != nil {
		return err
	}
	name := strings.TrimSpace(q.r.PostFormValue("model"))
	if err := validName(name); err != nil {
		return fmt.Errorf("%w (model name)", err)
	}
	id := q.r.PathValue("id")
	ref, err := j.RegisterJoint(q.ctx(), q.principal(), id, name)
	if err != nil {
		return err
	}
	return s.redirect(q, "joint/runs/"+url.PathEscape(id), fmt.Sprintf(q.lang.T("joint.registered"), ref))
}

func init() {
	for k, v := range jointMessages {
		messages[k] = v
	}
}

var jointMessages = map[string][2]string{
	"nav.joint":          {"联合建模", "Joint modelling"},
	"home.joint":         {"上传本行贷款表现标签，与平台政务指标按观察日期拼接成私有样本，在平台内训练并查看汇总评估：数据可用不可见。", "Upload your bank's loan outcomes; the platform joins them with government indicators as of each observation date into a private sample, trains in the platform and shows an aggregate evaluation: usable but not visible."},
	"joint.intro":        {"标签文件为 CSV，含企业统一社会信用代码、观察日期（年-月-日，如 2024-06-30）和结果（0/1）三列，表头与一行示例见下。样本只对本机构可见；下载只含您的权限级别以内的指标，未向本机构授权的企业以假名代替；评估只发布汇总结果，样本太少的分组不予显示。", "A label file is a CSV with the company's unified social credit code, the observation date (YYYY-MM-DD) and the outcome (0/1); the header and a row are shown below. The sample is visible to your institution only; a download holds only the indicators within your clearance and names companies that have not consented to your institution by a pseudonym; evaluations are released as aggregates, and groups too small are withheld."},
	"joint.upload":       {"上传标签文件", "Upload a label file"},
	"joint.name":         {"样本名称", "Sample name"},
	"joint.set":          {"拼接的指标集", "Feature set joined"},
	"joint.file":         {"标签文件（CSV）", "Label file (CSV)"},
	"joint.submit":       {"上传并生成样本", "Upload and build the sample"},
	"joint.chooseFile":   {"请选择一个非空的标签文件", "choose one non-empty label file"},
	"joint.samples":      {"本机构的私有样本", "Your institution's private samples"},
	"joint.sample":       {"样本", "Sample"},
	"joint.range":        {"快照日期", "Snapshots"},
	"joint.rows":         {"行数", "Rows"},
	"joint.positives":    {"违约数", "Defaults"},
	"joint.indicators":   {"指标数", "Indicators"},
	"joint.labelFile":    {"标签文件摘要", "Label file sha256"},
	"joint.download":     {"下载 CSV", "Download CSV"},
	"joint.withheld":     {"（%d 个超出权限的指标不含在下载中）", "(%d indicators above your clearance are left out)"},
	"joint.train":        {"训练", "Train"},
	"joint.trained":      {"训练完成。", "Training finished."},
	"joint.runs":         {"训练记录", "Training runs"},
	"joint.none":         {"还没有私有样本。上传一个标签文件开始。", "No private sample yet. Upload a label file to begin."},
	"joint.noRuns":       {"还没有训练记录。", "No training runs yet."},
	"joint.accepted":     {"已接受：生成样本 %s", "Accepted: sample %s built"},
	"joint.refused":      {"未接受，未写入任何数据", "Refused; nothing was written"},
	"joint.report":       {"文件报告", "File report"},
	"joint.file.rows":    {"文件行数", "Rows in the file"},
	"joint.file.firms":   {"涉及企业", "Companies"},
	"joint.file.joined":  {"成功拼接", "Joined"},
	"joint.file.pos":     {"违约（结果为 1）", "Defaults (outcome 1)"},
	"joint.file.snaps":   {"可用快照", "Snapshots held against"},
	"joint.file.split":   {"训练 / 验证 / 测试", "Train / valid / test"},
	"joint.file.changed": {"与本机构此前文件的最小差异", "Smallest difference from an earlier file of yours"},
	"joint.file.first":   {"首次上传", "first upload"},
	"joint.file.sha":     {"文件摘要（SHA-256）", "File digest (SHA-256)"},
	"joint.offenders":    {"问题行（最多 5 行）", "Offending rows (up to 5)"},
	"joint.line":         {"行号", "Line"},
	"joint.code":         {"企业代码", "Company code"},
	"joint.date":         {"观察日期", "Date"},
	"joint.problem":      {"问题", "Problem"},
	"joint.rowUnit":      {"%s 行", "%s rows"},

	"joint.why.size":            {"文件超过 %d MiB 上限。", "The file is larger than %d MiB."},
	"joint.why.format":          {"文件格式有误（需含企业代码、日期、结果三列，日期写作 2024-06-30 的形式，结果为 0 或 1，代码校验位正确）。", "The file is malformed (it needs code, date and outcome columns, dates as YYYY-MM-DD, outcomes 0 or 1, valid check digits)."},
	"joint.why.duplicate":       {"同一企业在同一观察日期出现了不止一次。", "A company appears more than once on the same date."},
	"joint.why.label":           {"结果只能是 0 或 1。", "Outcomes must be 0 or 1."},
	"joint.why.rows":            {"文件只有 %[2]s 行，至少需要 %[1]d 行：过小的文件可能指向个别企业。", "The file has %[2]s rows; a sample needs at least %[1]d: a smaller file could single out companies."},
	"joint.why.companies":       {"文件只涉及 %[2]s 家企业，至少需要 %[1]d 家：针对少数企业的文件是在查询这些企业，而不是建模。", "The file names %[2]s companies; a sample needs at least %[1]d: a file about a few companies asks about them, not about credit risk."},
	"joint.why.positives":       {"违约样本只有 %[2]s 个，至少需要 %[1]d 个。", "The file has %[2]s defaults; a sample needs at least %[1]d."},
	"joint.why.dates":           {"有观察日期落在快照范围之外（早于第一个快照，或晚于最新快照 %d 天以上）。", "Some observation dates fall outside the snapshots (before the first, or more than %d days after the newest)."},
	"joint.why.unknown_company": {"有企业代码在对应日期的快照中不存在（代码未知，或企业在该日期后才登记）。", "Some companies are not in the snapshot of their date (unknown codes, or registered later)."},
	"joint.why.joined":          {"能与快照拼接的行太少（至少需要 %d 行）。", "Too few rows joined a snapshot (at least %d are needed)."},
	"joint.why.near_duplicate":  {"与本机构此前上传的文件仅相差 %[2]s 行，至少需要相差 %[1]d 行：两次建模的差异会暴露这几行对应的企业。", "The file differs from an earlier file of yours by only %[2]s rows; a new file must differ by at least %[1]d: the difference between two models would reveal those rows' companies."},

	"joint.problem.before_first":    {"早于第一个快照", "before the first snapshot"},
	"joint.problem.after_last":      {"晚于最新快照", "after the newest snapshot"},
	"joint.problem.unknown_company": {"快照中无此企业", "company not in the snapshot"},
	"joint.problem.duplicate":       {"重复", "duplicate"},
	"joint.problem.label":           {"结果不是 0/1", "outcome not 0/1"},

	"joint.run":          {"训练结果", "Training run"},
	"joint.trees":        {"树的数量", "Trees"},
	"joint.evaluated":    {"评估数据", "Evaluated on"},
	"joint.split.test":   {"测试集（最新快照）", "test split (newest snapshot)"},
	"joint.split.valid":  {"验证集", "valid split"},
	"joint.policy":       {"发布规则：每个分组至少 %d 行、至少 %d 个违约和 %d 个未违约，否则隐藏；只隐藏一个分组时，另隐藏一个最小的分组，防止由总数反推。共隐藏 %d 个分组。", "Release rule: each group needs at least %d rows, %d defaults and %d non-defaults, or it is withheld; when only one group would be withheld, the next smallest is withheld too so the totals do not give it away. %d groups withheld."},
	"joint.allHidden":    {"评估集太小（少于 %d 行，或违约、未违约少于 %d 个），评估不予发布。", "The evaluated split is too small (fewer than %d rows, or fewer than %d defaults or non-defaults): no evaluation is released."},
	"joint.lift":         {"按风险分组（第 1 组风险最高）", "By risk decile (decile 1 the riskiest)"},
	"joint.calibration":  {"校准（按预测概率分组）", "Calibration (by predicted probability)"},
	"joint.decile":       {"分组", "Decile"},
	"joint.rate":         {"违约率", "Default rate"},
	"joint.liftCol":      {"提升度", "Lift"},
	"joint.meanScore":    {"平均预测概率", "Mean prediction"},
	"joint.hidden":       {"已隐藏（样本过少）", "withheld (too few)"},
	"joint.decileShort":  {"第%d组", "D%d"},
	"joint.liftChart":    {"各风险分组的违约率（已发布的分组）", "Default rate by risk decile (released deciles)"},
	"joint.decileAxis":   {"风险分组", "risk decile"},
	"joint.rateAxis":     {"违约率（%）", "default rate (%)"},
	"joint.calChart":     {"预测概率与实际违约率", "Predicted against observed default rate"},
	"joint.predicted":    {"平均预测概率", "mean predicted probability"},
	"joint.observed":     {"实际违约率", "observed default rate"},
	"joint.register":     {"登记为模型", "Register as a model"},
	"joint.modelName":    {"模型名称", "Model name"},
	"joint.registered":   {"已登记为 %s。模型文件含超出本机构权限的指标时只能在平台上调用，不能下载。", "Registered as %s. A model over indicators above your clearance is served on the platform and cannot be downloaded."},
	"joint.registeredAs": {"已登记：", "Registered: "},
	"joint.features":     {"模型使用 %d 个指标，其中 %d 个超出您的权限级别：模型可在平台上调用，模型文件不可下载。", "The model reads %d indicators, %d of them above your clearance: it is served on the platform; its file cannot be downloaded."},
	"joint.featuresOK":   {"模型使用 %d 个指标，均在您的权限级别以内。", "The model reads %d indicators, all within your clearance."},
}
