package lab

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Lang is one language of the console: every UI string comes from its table.
type Lang struct {
	Code  string // "zh" or "en"
	Other string // the language the switch offers
	idx   int
}

var langs = map[string]*Lang{
	"zh": {Code: "zh", Other: "en", idx: 0},
	"en": {Code: "en", Other: "zh", idx: 1},
}

// T returns the message for key; a missing key shows itself so that it is noticed.
func (l *Lang) T(key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	return m[l.idx]
}

// Pick returns zh or en text for the language, falling back to the other when empty.
func (l *Lang) Pick(zh, en string) string {
	if l.idx == 0 && zh != "" || en == "" {
		return zh
	}
	return en
}

// Money says an amount of yuan for people: in 万元 with separators in Chinese
// ("350 万元"; 亿元 from 1 亿 on: "2.35 亿元"), in yuan with separators in
// English ("CNY 3,500,000").
func (l *Lang) Money(yuan float64) string {
	if math.IsNaN(yuan) || math.IsInf(yuan, 0) {
		return "—"
	}
	if l.idx == 0 {
		if math.Abs(yuan) >= 1e8 {
			return strconv.FormatFloat(yuan/1e8, 'f', 2, 64) + " 亿元"
		}
		return groupDigits(yuan/1e4) + " 万元"
	}
	return "CNY " + groupDigits(yuan)
}

// Scope names a consent scope in words.
func (l *Lang) Scope(scope string) string {
	if m, ok := messages["scope."+scope]; ok {
		return m[l.idx]
	}
	return scope
}

// Purpose says what a consent was given for: "portal", "consent_request:3",
// "financing_request:12", "loan:7", or "" for a grant the platform recorded on
// the company's signed authorization.
func (l *Lang) Purpose(purpose string) string {
	kind, id, _ := strings.Cut(purpose, ":")
	if m, ok := messages["purpose."+kind]; ok {
		if id != "" {
			return fmt.Sprintf(m[l.idx], id)
		}
		return m[l.idx]
	}
	return purpose
}

// History says a model's audited change in a sentence: "申请将 v1 设为冠军模型"
// ("asked to make v1 the champion"), with the outcome when it was not carried
// out and the reason the approver gave.
func (l *Lang) History(h HistoryEntry) string {
	m, ok := messages["hist."+h.Action]
	if !ok {
		m = messages["hist.other"]
	}
	s := m[l.idx]
	s = strings.ReplaceAll(s, "{v}", "v"+strconv.Itoa(h.Version))
	s = strings.ReplaceAll(s, "{alias}", l.Word(h.Alias))
	switch h.Outcome {
	case "", "ok":
	case "refused", "failed":
		s += l.T("hist." + h.Outcome)
	}
	if h.Reason != "" && (h.Outcome == "" || h.Outcome == "ok") {
		s += l.T("hist.reason") + h.Reason
	}
	return s
}

// ModelRef says a model reference "name:alias" or "name:3" for people:
// "violation（冠军模型）", "violation（v3）".
func (l *Lang) ModelRef(ref string) string {
	name, sel, ok := strings.Cut(ref, ":")
	if !ok {
		return ref
	}
	if _, err := strconv.Atoi(sel); err == nil {
		sel = "v" + sel
	} else {
		sel = l.Word(sel)
	}
	if l.idx == 0 {
		return name + "（" + sel + "）"
	}
	return name + " (" + sel + ")"
}

// Quantity says a value with its unit for people: amounts in yuan through
// Money (万元, 亿元), ratios as they are, other units after the number with
// separators.
func (l *Lang) Quantity(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	switch unit {
	case "元":
		return l.Money(v)
	case "", "比率", "0/1":
		return groupDigits(v)
	}
	return groupDigits(v) + " " + l.Unit(unit)
}

// unitsEN are the catalog's units in English.
var unitsEN = map[string]string{
	"元": "yuan", "元/月": "yuan/month", "次": "times", "倍": "×", "天": "days", "月": "months", "家": "companies",
	"人": "people", "人/月": "people/month", "件": "items", "分": "points", "千瓦时": "kWh", "千瓦时/月": "kWh/month",
	"吨": "t", "吨/月": "t/month", "层": "levels", "张": "sheets", "立方米": "m³", "笔": "loans", "级": "grade",
	"比率": "ratio", "0/1": "0/1",
}

// Unit is a catalog unit in l's language (a unit it does not know as it is).
func (l *Lang) Unit(unit string) string {
	if l.idx == 1 {
		if en, ok := unitsEN[unit]; ok {
			return en
		}
	}
	return unit
}

// Bilingual picks the reader's part of a catalog text written "中文 English"
// (a department: "人民法院 courts"): the text before the first Latin letter in
// Chinese, the rest in English; a text of one language is returned whole.
func (l *Lang) Bilingual(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < 0x80 && unicode.IsLetter(r) })
	if i <= 0 {
		return s
	}
	if l.idx == 0 {
		return strings.TrimSpace(s[:i])
	}
	return strings.TrimSpace(s[i:])
}

// Dim names a dimension.
func (l *Lang) Dim(d string) string { return l.T("dim." + d) }

// Word translates an enumerated value (direction, sensitivity, state, alias, colour).
func (l *Lang) Word(v string) string {
	if m, ok := messages["w."+v]; ok {
		return m[l.idx]
	}
	return v
}

// messages holds every UI string as {zh, en}.
var messages = map[string][2]string{
	"sample.facts":                 {"样本概况", "About this sample"},
	"sample.posCount":              {"正样本", "Positives"},
	"sample.models":                {"用此样本训练的模型版本", "Model versions trained on it"},
	"sample.noModels":              {"尚无模型版本使用此样本", "No model version was trained on it yet"},
	"home.region":                  {"辖区概览", "Your region at a glance"},
	"home.indexAt":                 {"区域风险指数（%s）", "Regional risk index (%s)"},
	"home.change":                  {"较上期变化", "Change since the last period"},
	"home.rising":                  {"风险上升最多的区县", "Districts rising most"},
	"home.toRisk":                  {"查看区域风险详情 →", "Open the regional risk page →"},
	"home.latestScreenings":        {"最近的风险筛查", "Latest screenings"},
	"home.tiers":                   {"各风险层级企业数", "Companies per tier"},
	"w.binary":                     {"二分类（对数损失）", "binary (log loss)"},
	"w.regression":                 {"回归（平方误差）", "regression (squared error)"},
	"w.gamma":                      {"伽马回归（对数链接，按相对误差拟合）", "gamma (log link, fitted on relative errors)"},
	"card.data":                    {"训练数据", "Data"},
	"card.target":                  {"目标", "target"},
	"card.rows":                    {"样本行数", "Rows"},
	"card.rowsTrain":               {"训练 %s 行", "%s train"},
	"card.rowsValid":               {"，验证 %s 行", ", %s validation"},
	"card.rowsTest":                {"，测试 %s 行", ", %s test"},
	"card.posRate":                 {"；训练集正样本占比 %s", "; %s positive in training"},
	"card.features":                {"特征数", "Features"},
	"card.objective":               {"目标函数", "Objective"},
	"card.trees":                   {"树", "Trees"},
	"card.treesFmt":                {"保留 %d 棵（共训练 %d 轮，上限 %d 轮）", "%d kept (%d rounds run of at most %d)"},
	"card.early":                   {"，验证集提前停止", ", stopped early on validation"},
	"card.params":                  {"主要参数", "Main parameters"},
	"card.paramsFmt":               {"学习率 %s，每棵树至多 %d 个叶子，叶子至少 %d 行，L2 正则 %s，分箱至多 %d 个", "learning rate %s, at most %d leaves a tree, at least %d rows a leaf, L2 %s, at most %d bins"},
	"card.elapsed":                 {"训练耗时", "Training time"},
	"card.seconds":                 {"%s 秒", "%s s"},
	"card.evaluation":              {"各数据集上的表现", "How it does on each split"},
	"card.split":                   {"数据集", "Split"},
	"card.split.train":             {"训练集", "train"},
	"card.split.valid":             {"验证集", "validation"},
	"card.split.test":              {"测试集", "test"},
	"card.rowsCol":                 {"行数", "Rows"},
	"card.positives":               {"正样本", "Positives"},
	"card.gini":                    {"基尼系数", "Gini"},
	"card.logloss":                 {"对数损失", "Log loss"},
	"card.brier":                   {"Brier 分数", "Brier score"},
	"card.rmse":                    {"均方根误差", "RMSE"},
	"card.mdape":                   {"相对误差中位数", "Median error"},
	"card.rmseLog":                 {"对数均方根误差", "RMSE of log"},
	"card.monotone":                {"单调约束检查", "Monotone constraints"},
	"card.feature":                 {"指标", "Indicator"},
	"card.direction":               {"方向", "Direction"},
	"card.check":                   {"检查", "Check"},
	"card.up":                      {"取值越大风险越高", "higher means riskier"},
	"card.down":                    {"取值越大风险越低", "higher means safer"},
	"card.holds":                   {"成立", "holds"},
	"card.violations":              {"%d 处违反", "%d violations"},
	"sets.title":                   {"特征集", "Feature sets"},
	"sets.intro":                   {"特征集列出模型读取的平台指标和调用方在请求时提供的请求特征。已发布的版本不可更改；机构私有或共享。", "A feature set lists the platform indicators a model reads and the request features its caller supplies. A published version never changes; it is private to its institution or shared."},
	"sets.set":                     {"特征集", "Set"},
	"sets.owner":                   {"所属", "Owner"},
	"sets.indicators":              {"平台指标", "Indicators"},
	"sets.requests":                {"请求特征", "Request features"},
	"sets.features":                {"特征", "Features"},
	"sets.show":                    {"查看特征", "Show features"},
	"sets.feature":                 {"特征", "Feature"},
	"sets.kind":                    {"类型", "Kind"},
	"sets.allowed":                 {"取值范围", "Allowed values"},
	"sets.meaning":                 {"含义", "Meaning"},
	"sets.indicator":               {"平台指标", "indicator"},
	"sets.reqNum":                  {"请求特征（数值）", "request feature (number)"},
	"sets.reqCat":                  {"请求特征（类别）", "request feature (category)"},
	"sets.builtin":                 {"平台内置", "built in"},
	"sets.shared":                  {"共享", "shared"},
	"sets.private":                 {"私有", "private"},
	"sets.publish":                 {"发布新的特征集或新版本", "Publish a set or a new version"},
	"sets.howto0":                  {"以", "Write it in"},
	"sets.howto1":                  {"格式填写，字段为", "with the fields"},
	"sets.howto2":                  {"；特征列表中每一项或为平台指标（", "; each entry of features is a platform indicator ("},
	"sets.howto3":                  {"：指标编码），或为请求特征（", ": its id) or a request feature ("},
	"sets.howto4":                  {"）。同名再次发布即为下一版本。", "). Publishing a name again makes its next version."},
	"sets.sep":                     {"、", ", "},
	"sets.lp":                      {"（", " ("},
	"sets.rp":                      {"）", ")"},
	"sets.example":                 {"示例", "Example"},
	"sets.submit":                  {"发布", "Publish"},
	"sets.published":               {"已发布特征集 %s", "Published feature set %s"},
	"app.name":                     {"信易 · 数据模型实验室", "Xinyi · Data & Model Lab"},
	"nav.home":                     {"首页", "Home"},
	"nav.indicators":               {"指标库", "Indicators"},
	"nav.samples":                  {"样本库", "Samples"},
	"nav.algorithms":               {"算法库", "Algorithms"},
	"nav.models":                   {"模型库", "Models"},
	"nav.approvals":                {"审批", "Approvals"},
	"nav.screenings":               {"风险筛查", "Screening"},
	"nav.companies":                {"企业画像", "Companies"},
	"screen.explore":               {"筛查结果浏览", "Explore the screening"},
	"screen.exploreLink":           {"浏览全部企业（按区县、行业、风险层级筛选）", "Explore every company (filter by district, industry, tier)"},
	"explore.text":                 {"企业名称或代码", "Name or code"},
	"explore.sort":                 {"排序", "Sort"},
	"explore.byRisk":               {"风险从高到低", "riskiest first"},
	"explore.byRiskAsc":            {"风险从低到高", "least risky first"},
	"explore.byName":               {"企业名称", "name"},
	"explore.byDistrict":           {"区县", "district"},
	"explore.apply":                {"筛选", "Apply"},
	"explore.companies":            {"家企业", "companies"},
	"explore.pages":                {"第 %d / %d 页", "page %d of %d"},
	"explore.prev":                 {"上一页", "Previous"},
	"explore.next":                 {"下一页", "Next"},
	"nav.risk":                     {"区域风险", "Regional risk"},
	"home.risk":                    {"区域风险指数：全区及各区县、各行业随时间的变化。", "The regional risk index: the region, each district and each industry over time."},
	"risk.region":                  {"全区", "Whole region"},
	"risk.trend":                   {"全区风险指数走势", "Regional risk index over time"},
	"risk.index":                   {"指数", "Index"},
	"risk.districts":               {"各区县", "Districts"},
	"risk.industries":              {"各行业（国民经济行业分类门类）", "Industries (GB/T 4754 sections)"},
	"risk.change":                  {"最近一期变化", "Latest change"},
	"risk.method":                  {"计算方法（第 %s 版）", "Method (version %s)"},
	"risk.suppressed":              {"企业数过少，不公布", "too few companies to show"},
	"risk.companies":               {"家企业", "companies"},
	"nav.sources":                  {"数据源", "Sources"},
	"home.sources":                 {"各部门数据源的报送批次、拒收率和及时性。", "Each department source's batches, rejection rate and timeliness."},
	"src.source":                   {"数据源", "Source"},
	"src.department":               {"报送部门", "Department"},
	"src.cadence":                  {"报送周期", "Cadence"},
	"src.batches":                  {"批次", "Batches"},
	"src.rows":                     {"报送行数", "Rows delivered"},
	"src.rejected":                 {"拒收率", "Rejected"},
	"src.last":                     {"最近入库", "Last accepted"},
	"src.state":                    {"及时性", "Timeliness"},
	"src.late":                     {"逾期未报", "overdue"},
	"src.ontime":                   {"按时", "on time"},
	"src.never":                    {"从未报送", "never delivered"},
	"src.days":                     {"天", " days"},
	"src.note":                     {"逾期：最近一批的入库时间早于该数据源约定的报送周期。时间为 UTC。", "Overdue: the newest batch was accepted longer ago than the source's agreed cadence. Times are UTC."},
	"src.summary":                  {"个数据源逾期未报", " sources overdue"},
	"nav.jobs":                     {"后台任务", "Jobs"},
	"nav.logout":                   {"退出", "Sign out"},
	"nav.lang":                     {"English", "中文"},
	"home.welcome":                 {"欢迎", "Welcome"},
	"home.indicators":              {"按维度、来源部门和敏感级别浏览指标：定义、覆盖率、分布和预测力。", "Browse indicators by dimension, source department and sensitivity: definition, coverage, distribution, predictive power."},
	"home.samples":                 {"训练样本：时间范围、规模、正样本率和血缘。", "Training samples: date ranges, sizes, positive rates and lineage."},
	"home.algorithms":              {"训练器参数预设；在样本上训练并登记结果。", "Trainer presets; train on a sample and register the result."},
	"home.models":                  {"模型与版本：指标、ROC/KS、校准、重要性、模型卡、别名、上传。", "Models and versions: metrics, ROC/KS, calibration, importances, model card, aliases, uploads."},
	"home.approvals":               {"待审批的模型晋升（四眼原则）。", "Pending promotions (four eyes)."},
	"home.screenings":              {"全区企业违法失信概率筛查、分层和排名。", "Screen every company in the region: violation probability, tiers and ranking."},
	"home.companies":               {"企业指标、评分历史、评级、原因和担保圈。", "Company indicators, score history, rating, reasons and guarantee circle."},
	"login.title":                  {"登录", "Sign in"},
	"login.key":                    {"API 密钥", "API key"},
	"login.submit":                 {"登录", "Sign in"},
	"login.hint":                   {"使用机构发放的 API 密钥登录；会话 8 小时后失效。", "Sign in with the API key your institution issued; the session lasts 8 hours."},
	"login.empty":                  {"请输入 API 密钥。", "Enter an API key."},
	"login.bad":                    {"API 密钥无效或已吊销。", "The API key is unknown or revoked."},
	"err.unauthenticated":          {"请先登录", "Please sign in"},
	"err.csrf":                     {"表单已过期或被篡改，未做任何更改。请返回、刷新页面后重试。", "The form has expired or was tampered with; nothing was changed. Go back, reload the page and try again."},
	"err.forbidden":                {"您的角色无权访问此页面", "Your role may not open this page"},
	"err.consent":                  {"该企业尚未授权贵机构查看其信用信息", "The company has not granted your institution consent to see its credit profile"},
	"err.notfound":                 {"未找到", "Not found"},
	"err.invalid":                  {"输入有误，未做任何更改", "The input is not valid; nothing was changed"},
	"err.conflict":                 {"操作与当前状态冲突，未做任何更改", "This conflicts with the current state; nothing was changed"},
	"err.notconnected":             {"该功能尚未接入", "This library is not connected"},
	"err.internal":                 {"内部错误，请稍后重试", "Internal error; please try again later"},
	"err.back":                     {"返回", "Go back"},
	"common.search":                {"搜索", "Search"},
	"common.all":                   {"全部", "All"},
	"common.filter":                {"筛选", "Filter"},
	"common.none":                  {"暂无数据", "Nothing yet"},
	"common.state":                 {"状态", "State"},
	"common.progress":              {"进度", "Progress"},
	"common.by":                    {"操作人", "By"},
	"common.time":                  {"时间", "Time"},
	"common.submit":                {"提交", "Submit"},
	"common.name":                  {"名称", "Name"},
	"common.details":               {"详情", "Details"},
	"ind.id":                       {"指标编号", "Indicator id"},
	"ind.dimension":                {"维度", "Dimension"},
	"ind.source":                   {"来源", "Source"},
	"ind.department":               {"来源部门", "Source department"},
	"ind.sensitivity":              {"敏感级别", "Sensitivity"},
	"ind.window":                   {"时间窗", "Window"},
	"ind.months":                   {"个月", "months"},
	"ind.static":                   {"静态", "static"},
	"ind.direction":                {"方向", "Direction"},
	"ind.unit":                     {"单位", "Unit"},
	"ind.aggregation":              {"聚合方式", "Aggregation"},
	"ind.definition":               {"定义", "Definition"},
	"ind.coverage":                 {"覆盖率", "Coverage"},
	"ind.asof":                     {"快照日期", "As of"},
	"ind.histogram":                {"分布", "Distribution"},
	"ind.companies":                {"企业数", "Companies"},
	"ind.power":                    {"预测力", "Predictive power"},
	"ind.label":                    {"标签", "Label"},
	"ind.industry":                 {"行业均值", "Industry average"},
	"ind.psi":                      {"稳定性 (PSI)", "Stability (PSI)"},
	"ind.nostats":                  {"该指标暂无统计（尚未物化快照）。", "No statistics for this indicator yet (no materialized snapshot)."},
	"ind.hidden":                   {"另有 %d 个指标因敏感级别对您的角色隐藏。", "%d more indicators are hidden from your role by their sensitivity."},
	"ind.count":                    {"共 %d 个指标，显示 %d 个", "%d indicators, %d shown"},
	"ind.placeholder":              {"编号、名称或描述", "id, name or description"},
	"dim.capital":                  {"资本实力", "Capital strength"},
	"dim.operating":                {"运营能力", "Operating capability"},
	"dim.profitability":            {"盈利能力", "Profitability"},
	"dim.solvency":                 {"偿付能力", "Solvency"},
	"dim.growth":                   {"发展潜力", "Growth potential"},
	"dim.compliance":               {"合规", "Compliance"},
	"dim.network":                  {"关联", "Network"},
	"w.higher_better":              {"越高越好", "higher is better"},
	"w.higher_worse":               {"越高越差", "higher is worse"},
	"w.none":                       {"无单调方向", "no direction"},
	"w.public":                     {"公开", "public"},
	"w.restricted":                 {"受限", "restricted"},
	"w.confidential":               {"机密", "confidential"},
	"w.running":                    {"运行中", "running"},
	"w.done":                       {"已完成", "done"},
	"w.failed":                     {"失败", "failed"},
	"w.pending":                    {"待审批", "pending"},
	"w.approved":                   {"已批准", "approved"},
	"w.rejected":                   {"已驳回", "rejected"},
	"w.champion":                   {"冠军模型", "champion"},
	"w.challenger":                 {"挑战者模型", "challenger"},
	"w.high":                       {"高风险（多查）", "high (inspect more)"},
	"w.medium":                     {"中风险", "medium"},
	"w.label.label":                {"数据集自带标签", "the data set's label"},
	"w.label.default_12m":          {"12 个月内违约", "default within 12 months"},
	"w.label.violation_12m":        {"12 个月内违法失信", "violation within 12 months"},
	"w.label.limit":                {"授信额度", "credit limit"},
	"w.dev":                        {"开发版（未发布）", "dev (unreleased)"},
	"w.Gini":                       {"基尼系数", "Gini"},
	"w.log loss":                   {"对数损失", "log loss"},
	"w.eval_auc":                   {"AUC（银行评估文件）", "AUC (bank's evaluation file)"},
	"w.eval_ks":                    {"KS（银行评估文件）", "KS (bank's evaluation file)"},
	"w.eval_rows":                  {"评估文件行数", "evaluation file rows"},
	"w.eval_positives":             {"评估文件正例数", "evaluation file positives"},
	"w.valid_auc":                  {"AUC（验证集）", "AUC (validation)"},
	"w.test_auc":                   {"AUC（测试集）", "AUC (test)"},
	"w.test_ks":                    {"KS（测试集）", "KS (test)"},
	"w.test_gini":                  {"基尼系数（测试集）", "Gini (test)"},
	"w.test_logloss":               {"对数损失（测试集）", "log loss (test)"},
	"w.valid_ks":                   {"KS（验证集）", "KS (validation)"},
	"w.valid_gini":                 {"基尼系数（验证集）", "Gini (validation)"},
	"w.valid_logloss":              {"对数损失（验证集）", "log loss (validation)"},
	"w.valid_rmse":                 {"均方根误差（验证集）", "RMSE (validation)"},
	"w.test_rmse":                  {"均方根误差（测试集）", "RMSE (test)"},
	"w.valid_mdape":                {"相对误差中位数（验证集）", "median error (validation)"},
	"w.test_mdape":                 {"相对误差中位数（测试集）", "median error (test)"},
	"w.valid_rmse_log":             {"对数均方根误差（验证集）", "RMSE of log (validation)"},
	"w.test_rmse_log":              {"对数均方根误差（测试集）", "RMSE of log (test)"},
	"w.RMSE":                       {"均方根误差", "RMSE"},
	"w.MdAPE":                      {"相对误差中位数", "median error"},
	"w.RMSE of log":                {"对数均方根误差", "RMSE of log"},
	"w.Brier":                      {"Brier 分数", "Brier score"},
	"w.elevated":                   {"较高风险", "elevated"},
	"w.moderate":                   {"一般风险", "moderate"},
	"w.low":                        {"低风险（少扰）", "low (inspect less)"},
	"w.green":                      {"绿码", "green"},
	"w.yellow":                     {"黄码", "yellow"},
	"w.orange":                     {"橙码", "orange"},
	"w.red":                        {"红码", "red"},
	"sample.name":                  {"样本", "Sample"},
	"sample.set":                   {"特征集", "Feature set"},
	"sample.label":                 {"标签", "Label"},
	"sample.range":                 {"时间范围", "Date range"},
	"sample.rows":                  {"行数", "Rows"},
	"sample.pos":                   {"正样本率", "Positive rate"},
	"sample.features":              {"特征数", "Features"},
	"sample.build":                 {"构建新样本", "Build a new sample"},
	"sample.setLabel":              {"特征集默认标签", "the feature set's label"},
	"sample.from":                  {"快照起始日期", "First snapshot date"},
	"sample.to":                    {"快照截止日期", "Last snapshot date"},
	"sample.jobs":                  {"样本构建任务", "Sample builds"},
	"flash.building":               {"样本构建已开始。", "The sample build has started."},
	"sample.lineage":               {"血缘", "Lineage"},
	"param.rounds":                 {"轮数", "rounds"},
	"param.learning_rate":          {"学习率", "learning rate"},
	"param.num_leaves":             {"每棵树叶子数", "leaves per tree"},
	"param.min_data_in_leaf":       {"每叶最少行数", "min rows per leaf"},
	"param.lambda_l2":              {"L2 正则", "L2 penalty"},
	"param.bagging":                {"行抽样比例", "row sampling"},
	"param.feature_fraction":       {"特征抽样比例", "feature sampling"},
	"param.early_stopping":         {"提前停止轮数（0 为不停）", "early stopping rounds (0: never)"},
	"sample.noRange":               {"不限（公开数据集）", "any (public data set)"},
	"sample.rowsUnit":              {"行", "rows"},
	"algo.presets":                 {"参数预设", "Parameter presets"},
	"algo.train":                   {"开始训练", "Start training"},
	"algo.sample":                  {"训练样本", "Training sample"},
	"algo.preset":                  {"预设", "Preset"},
	"algo.jobs":                    {"训练任务", "Training jobs"},
	"train.title":                  {"训练任务", "Training job"},
	"train.curve":                  {"验证曲线", "Validation curve"},
	"train.train":                  {"训练集", "train"},
	"train.valid":                  {"验证集", "validation"},
	"train.round":                  {"轮次", "round"},
	"train.best":                   {"最佳轮次", "Best round"},
	"train.register":               {"登记为模型", "Register as model"},
	"train.registered":             {"已登记为", "Registered as"},
	"model.name":                   {"模型", "Model"},
	"model.task":                   {"任务", "Task"},
	"model.versions":               {"版本", "Versions"},
	"model.aliases":                {"别名", "Aliases"},
	"model.upload":                 {"上传模型", "Upload a model"},
	"model.version":                {"版本", "Version"},
	"model.format":                 {"格式", "Format"},
	"model.created":                {"创建", "Created"},
	"model.metrics":                {"评估指标", "Metrics"},
	"model.roc":                    {"ROC 曲线", "ROC curve"},
	"model.ks":                     {"KS 曲线", "KS curve"},
	"model.calibration":            {"校准图", "Calibration"},
	"model.importance":             {"特征重要性", "Feature importance"},
	"model.card":                   {"模型卡", "Model card"},
	"company.late":                 {"以下部门未按约定周期报送数据，相关指标可能已过时：", "These departments have not delivered on schedule; their indicators may be out of date: "},
	"model.releasedCard":           {"模型卡：向本机构发布的评估（仅汇总数据）", "Model card: the evaluation released to your institution (aggregates only)"},
	"model.lineage":                {"血缘", "Lineage"},
	"model.sample":                 {"训练样本", "Training sample"},
	"model.code":                   {"代码版本", "Code version"},
	"model.sha":                    {"文件摘要", "Artifact sha256"},
	"model.trees":                  {"树数量", "Trees"},
	"model.features":               {"特征数", "Features"},
	"model.golden":                 {"已校验黄金样例行", "Golden rows checked"},
	"model.promote":                {"申请晋升", "Request promotion"},
	"model.promotions":             {"晋升申请", "Promotion requests"},
	"model.history":                {"变更历史", "History"},
	"drift.title":                  {"模型漂移监测", "Model drift"},
	"drift.chart":                  {"评分与主要指标的群体稳定性指数（PSI）", "Population stability (PSI) of the score and top indicators"},
	"drift.date":                   {"快照日期", "snapshot date"},
	"drift.watch":                  {"关注", "watch"},
	"drift.act":                    {"处置", "act"},
	"drift.stable":                 {"稳定", "stable"},
	"drift.bsample":                {"基准：训练样本", "Baseline: training sample"},
	"drift.bfirst":                 {"基准：首个投产日（无训练样本）", "Baseline: first production date (no training sample)"},
	"drift.series":                 {"对象", "Series"},
	"drift.gain":                   {"重要性占比", "Gain share"},
	"drift.latest":                 {"最新 PSI", "Latest PSI"},
	"drift.level":                  {"状态", "Level"},
	"drift.score":                  {"模型评分", "Model score"},
	"drift.note":                   {"PSI ≥ 0.1 为关注，≥ 0.25 为处置；达到时通知模型所有者。", "PSI ≥ 0.1 is watch, ≥ 0.25 act; the model's owner is told."},
	"model.fpr":                    {"假阳性率", "false positive rate"},
	"model.tpr":                    {"真阳性率", "true positive rate"},
	"model.population":             {"人群占比", "population share"},
	"model.predicted":              {"预测概率", "predicted"},
	"model.observed":               {"实际比率", "observed"},
	"model.alias":                  {"别名", "Alias"},
	"model.requested":              {"申请人", "Requested by"},
	"model.decided":                {"审批人", "Decided by"},
	"model.reason":                 {"意见", "Reason"},
	"upload.title":                 {"上传模型文件", "Upload a model file"},
	"upload.model":                 {"模型名称", "Model name"},
	"upload.file":                  {"模型文件（LightGBM 文本、XGBoost JSON/UBJSON/二进制）", "Model file (LightGBM text, XGBoost JSON/UBJSON/binary)"},
	"upload.evaluation":            {"带标签的评估文件（晋升为冠军所需，CSV：模型各列取值……,结果0或1；至少200行）", "Labelled evaluation file (needed to become champion; CSV: the model's inputs…, outcome 0 or 1; at least 200 rows)"},
	"upload.golden":                {"黄金样例行（可选，CSV：特征值……,预期预测）", "Golden rows (optional CSV: feature values…, expected prediction)"},
	"upload.set":                   {"特征集（可选，如 pd/v1）", "Feature set (optional, e.g. pd/v1)"},
	"upload.task":                  {"任务", "Task"},
	"task.pd":                      {"违约概率", "probability of default (pd)"},
	"task.violation":               {"违法失信概率", "violation probability (violation)"},
	"task.limit":                   {"预授信额度", "pre-credit limit (limit)"},
	"upload.submit":                {"上传并校验", "Upload and validate"},
	"appr.title":                   {"待审批的晋升", "Pending promotions"},
	"appr.approve":                 {"批准", "Approve"},
	"appr.reject":                  {"驳回", "Reject"},
	"appr.moves":                   {"申请将%s指向 %s", "request to point %s at %s"},
	"appr.candidate":               {"申请版本", "Requested version"},
	"appr.current":                 {"当前版本", "Current version"},
	"appr.noCurrent":               {"尚无版本", "none yet"},
	"appr.evidence":                {"评估依据", "Evidence"},
	"appr.ev.sample":               {"平台样本留出集评估", "platform evaluation on a sample's hold-out split"},
	"appr.ev.file":                 {"平台对带标签评估文件的评分", "platform scoring of a labelled evaluation file"},
	"appr.ev.reported":             {"上传方自报指标", "metrics reported by the uploader"},
	"appr.ev.none":                 {"无评估，不能晋升为冠军", "no evaluation: cannot become champion"},
	"appr.sample":                  {"训练样本", "Training sample"},
	"appr.trees":                   {"树的数量", "Trees"},
	"appr.registered":              {"注册", "Registered"},
	"appr.comment":                 {"审批意见", "Comment"},
	"appr.commentHint":             {"驳回时必须说明理由", "Required to reject: say why"},
	"appr.reasonNeeded":            {"驳回须填写理由，说明申请人应如何改进", "a rejection needs a comment saying what the requester should change"},
	"appr.fourEyes":                {"四眼原则：申请人不能审批自己的申请。", "Four eyes: nobody approves their own request."},
	"screen.title":                 {"风险筛查", "Screening"},
	"screen.start":                 {"开始筛查", "Start screening"},
	"screen.model":                 {"模型", "Model"},
	"screen.tiers":                 {"风险分层", "Risk tiers"},
	"screen.ranking":               {"风险排名（前列）", "Ranking (top)"},
	"screen.rank":                  {"排名", "Rank"},
	"screen.company":               {"企业", "Company"},
	"screen.prob":                  {"违法失信概率", "Violation probability"},
	"screen.tier":                  {"分层", "Tier"},
	"screen.reasons":               {"主要原因", "Main reasons"},
	"screen.export":                {"导出 CSV", "Export CSV"},
	"screen.jobs":                  {"筛查任务", "Screening jobs"},
	"company.search":               {"输入统一社会信用代码", "Enter a unified social credit code"},
	"company.searchName":           {"企业名称或统一社会信用代码", "Company name or unified social credit code"},
	"company.find":                 {"查找", "Search"},
	"company.hits":                 {"找到 %d 家企业", "Companies found: %d"},
	"company.hitsMore":             {"列出最相符的 %d 家企业，请输入更完整的名称", "The %d best matches; type more of the name to narrow them"},
	"company.noHits":               {"没有名称或代码与“%s”相符的企业", "No company's name or code matches \"%s\""},
	"company.open":                 {"查看画像", "Open profile"},
	"company.code":                 {"统一社会信用代码", "Unified social credit code"},
	"company.industry":             {"行业", "Industry"},
	"company.region":               {"地区", "Region"},
	"company.pd":                   {"违约概率", "Probability of default"},
	"company.rating":               {"评级", "Rating"},
	"company.colour":               {"风险码", "Risk colour"},
	"company.limit":                {"预授信额度", "Pre-credit limit"},
	"company.reasons":              {"评分原因", "Reasons"},
	"company.raises":               {"推高风险", "raises the risk"},
	"company.lowers":               {"降低风险", "lowers the risk"},
	"company.pdPct":                {"违约概率（%）", "PD (%)"},
	"company.history":              {"评分历史", "Score history"},
	"company.graph":                {"担保圈", "Guarantee circle"},
	"company.graphKey":             {"箭头由担保方指向被担保方；颜色为各企业的风险码；悬停可见代码与担保关系。", "Arrows point from guarantor to borrower; colours are each company's risk colour; hover for codes and links."},
	"company.value":                {"企业值", "Company"},
	"company.avg":                  {"行业均值", "Industry average"},
	"company.indicators":           {"分维度指标与行业均值", "Indicators by dimension against the industry average"},
	"nav.portal":                   {"我的企业", "My companies"},
	"home.portal":                  {"绑定本企业账户，查看本企业的信用评估，管理授权，答复银行的授权请求。", "Bind your account to your company, see its credit assessment, manage its consents and answer banks' requests."},
	"nav.asks":                     {"授权请求", "Consent requests"},
	"home.asks":                    {"向企业申请信用评估授权，查看贵机构各项请求的答复。", "Ask companies for credit-assessment consent and follow your institution's requests."},
	"portal.intro":                 {"账户须经企业法定代表人证明后方可代表企业：验证码发送至工商登记的法定代表人手机，或由平台核验电子营业执照；法定代表人可授权本企业员工账户。", "An account acts for a company only once the legal representative proves it: a code goes to the mobile number registered for the legal representative, or the platform verifies the electronic business licence; the legal representative may delegate to staff accounts."},
	"portal.company":               {"企业", "Company"},
	"portal.capacity":              {"身份", "Capacity"},
	"portal.method":                {"证明方式", "Proven by"},
	"portal.state":                 {"状态", "State"},
	"portal.contact":               {"验证码发送至", "Code sent to"},
	"portal.since":                 {"日期", "Date"},
	"portal.otp":                   {"6 位验证码", "6-digit code"},
	"portal.activate":              {"完成绑定", "Bind"},
	"portal.expires":               {"验证码有效期至", "Code valid until"},
	"portal.end":                   {"解除绑定", "End binding"},
	"portal.none":                  {"本账户尚未绑定任何企业。", "This account is not bound to any company yet."},
	"portal.bindTitle":             {"绑定企业", "Bind a company"},
	"portal.bindHint":              {"验证码将以短信发送至工商登记的法定代表人手机，10 分钟内有效，最多可输错 5 次。", "A code is sent by SMS to the mobile number registered for the legal representative; it is valid for 10 minutes and allows 5 wrong tries."},
	"portal.send":                  {"发送验证码", "Send the code"},
	"portal.sent":                  {"验证码已发送至 %s，请在 10 分钟内输入。", "The code was sent to %s; enter it within 10 minutes."},
	"portal.otpShape":              {"验证码为 6 位数字。", "The code has 6 digits."},
	"portal.bound":                 {"绑定成功，本账户现可代表该企业。", "Bound: this account now acts for the company."},
	"portal.ended":                 {"已解除绑定。", "The binding has ended."},
	"portal.assessment":            {"本企业信用评估", "The company's credit assessment"},
	"portal.noProfile":             {"平台尚无本企业的信用评估。", "The platform has no assessment of this company yet."},
	"portal.noAssessor":            {"信用评估服务未接入。", "The assessment service is not connected."},
	"portal.pendingNote":           {"有 %d 项银行授权请求待您答复。", "Consent requests waiting for your answer: %d."},
	"portal.consents":              {"授权情况：哪些机构可以查看本企业的信用信息", "Consents: who may see the company's credit information"},
	"portal.consentsHint":          {"授权到期或撤销后，该机构即不能再查看本企业的信用评估。", "Once a consent expires or is revoked, the institution can no longer see the company's assessment."},
	"portal.institution":           {"机构", "Institution"},
	"portal.scope":                 {"授权内容", "Scope"},
	"portal.purpose":               {"授权缘由", "Given for"},
	"portal.granted":               {"授权日期", "Granted"},
	"portal.until":                 {"有效期至", "Until"},
	"portal.active":                {"有效", "active"},
	"portal.revokedOn":             {"已撤销", "revoked"},
	"portal.expired":               {"已到期", "expired"},
	"portal.revoke":                {"撤销授权", "Revoke"},
	"portal.noConsents":            {"本企业尚未向任何机构授权。", "The company has granted no consent."},
	"portal.grantTitle":            {"新增授权", "Grant a consent"},
	"portal.grant":                 {"授权", "Grant"},
	"portal.grantHint":             {"授权期限最长一年；可随时撤销。", "A consent lasts at most a year and can be revoked at any time."},
	"portal.grantDone":             {"已向%s授权，有效期至 %s。", "Consent granted to %s until %s."},
	"portal.chooseInst":            {"请选择机构。", "Choose an institution."},
	"portal.revoked":               {"已撤销授权。", "The consent is revoked."},
	"portal.requests":              {"银行的授权请求", "Banks' consent requests"},
	"portal.note":                  {"申请说明", "Note"},
	"portal.asked":                 {"申请日期", "Asked on"},
	"portal.accept":                {"同意", "Accept"},
	"portal.decline":               {"拒绝", "Decline"},
	"portal.noRequests":            {"暂无授权请求。", "No consent requests."},
	"portal.accepted":              {"已同意，授权已生效。", "Accepted: the consent is in force."},
	"portal.declined":              {"已拒绝该请求。", "The request is declined."},
	"portal.accounts":              {"代表本企业的账户", "Accounts acting for the company"},
	"portal.account":               {"账户", "Account"},
	"portal.delegateTitle":         {"授权员工账户", "Delegate to a staff account"},
	"portal.staff":                 {"员工账户名", "Staff account name"},
	"portal.delegate":              {"授权", "Delegate"},
	"portal.delegateHint":          {"员工账户须为本平台的企业用户账户；法定代表人绑定解除时，员工授权一并失效。", "The staff account must be a company account of the platform; delegations end with the legal representative's binding."},
	"portal.delegated":             {"已授权账户 %s 代表本企业。", "Account %s now acts for the company."},
	"portal.userShape":             {"请输入 1 至 64 个字符的账户名。", "Enter an account name of 1 to 64 characters."},
	"portal.errAlreadyBound":       {"本账户已绑定该企业，无需重复绑定。", "This account is already bound to the company"},
	"portal.errNoContact":          {"工商登记中没有该企业法定代表人的手机号，无法发送验证码；请联系平台核验电子营业执照完成绑定。", "The business registry holds no mobile number of the company's legal representative; ask the platform to verify the electronic business licence"},
	"portal.errNoSMS":              {"本平台未接入短信验证，无法发送验证码；请联系平台核验电子营业执照完成绑定。", "This platform sends no codes; ask the platform to verify the electronic business licence"},
	"portal.errActivation":         {"验证码不正确或已失效，绑定未完成。输错 5 次或超过 10 分钟后，请重新发送验证码。", "The code is wrong or no longer valid; the account is not bound. After 5 wrong tries or 10 minutes, send a new code"},
	"portal.errNotYours":           {"该记录不属于本账户或本企业，未做任何更改。", "It is not this account's or this company's; nothing was changed"},
	"portal.errNotRep":             {"只有企业法定代表人的账户可以授权员工账户或解除员工的绑定。", "Only the legal representative's account delegates to staff or ends a staff account's binding"},
	"portal.errNoUser":             {"没有这个账户名，请核对员工的账户名。", "No account has that name; check the staff account's name"},
	"portal.errStaffBound":         {"该员工账户已代表本企业。", "That staff account already acts for the company"},
	"portal.errNotStaff":           {"只能授权本平台的企业用户账户（须有企业角色且未停用）。", "Only an enabled company account of the platform can be delegated to"},
	"portal.errNoInst":             {"没有这家机构，请从列表中选择。", "No such institution; pick one from the list"},
	"portal.errNotGrantee":         {"只能向银行或融资担保机构授权。", "Consent is granted only to a bank or a guarantee institution"},
	"portal.errAnswered":           {"该请求已答复或已撤回，未做任何更改。", "The request was already answered or withdrawn; nothing was changed"},
	"ask.errPending":               {"贵机构对该企业已有一项待答复的授权请求，请等待企业答复。", "Your institution already has a request waiting for this company's answer"},
	"ask.title":                    {"向企业申请授权", "Ask the company for consent"},
	"ask.note":                     {"申请说明（企业可见）", "Note (the company reads it)"},
	"ask.notePlaceholder":          {"例如：贵企业的流动资金贷款申请需查询信用评估", "e.g. to assess your working-capital loan application"},
	"ask.hint":                     {"企业在“我的企业”中同意后，授权即生效，可重新打开企业画像。期限最长一年。", "Once the company accepts under My companies, the consent is in force and the profile opens again. At most a year."},
	"ask.send":                     {"发送授权请求", "Send the request"},
	"ask.sent":                     {"已向%s发送授权请求，等待企业答复。", "Request sent to %s; waiting for the company's answer."},
	"ask.pending":                  {"贵机构已于 %s 发出授权请求（有效期至 %s），正在等待企业答复。", "Your institution asked on %s (until %s); the company has not answered yet."},
	"ask.mine":                     {"查看贵机构的全部授权请求", "All your institution's consent requests"},
	"ask.intro":                    {"贵机构向企业发出的授权请求及企业的答复。", "Your institution's consent requests to companies and their answers."},
	"ask.none":                     {"贵机构尚未发出授权请求。", "Your institution has sent no consent requests."},
	"ask.noteShape":                {"申请说明最多 500 字。", "The note is at most 500 characters."},
	"scope.credit_assessment":      {"信用评估", "credit assessment"},
	"purpose.portal":               {"企业自行授权", "granted by the company"},
	"purpose.consent_request":      {"同意机构的第 %s 号授权请求", "accepted request no. %s"},
	"purpose.financing_request":    {"第 %s 号融资申请", "financing request no. %s"},
	"purpose.loan":                 {"第 %s 号贷款", "loan no. %s"},
	"purpose.":                     {"平台依企业书面授权登记", "recorded by the platform on the company's signed authorization"},
	"w.binding.pending":            {"待输入验证码", "waiting for the code"},
	"w.binding.active":             {"已生效", "active"},
	"w.binding.revoked":            {"已解除", "ended"},
	"w.capacity.legal_rep":         {"法定代表人", "legal representative"},
	"w.capacity.delegate":          {"员工（法定代表人授权）", "staff (delegated)"},
	"w.method.sms":                 {"法定代表人手机验证码", "code to the legal representative's mobile"},
	"w.method.operator":            {"平台核验电子营业执照", "licence verified by the platform"},
	"w.method.delegation":          {"法定代表人授权", "delegation by the legal representative"},
	"w.request.pending":            {"待答复", "waiting"},
	"w.request.accepted":           {"已同意", "accepted"},
	"w.request.declined":           {"已拒绝", "declined"},
	"w.request.withdrawn":          {"已撤回", "withdrawn"},
	"home.jobs":                    {"筛查、特征物化分片等后台任务：状态、进度、重试和错误。", "Background jobs such as screenings and materialization shards: state, progress, retries and errors."},
	"jobs.all":                     {"全部", "All"},
	"jobs.kind":                    {"任务类型", "Kind"},
	"jobs.subject":                 {"对象", "Subject"},
	"jobs.attempt":                 {"尝试次数", "Attempts"},
	"jobs.created":                 {"创建时间", "Created"},
	"jobs.finished":                {"结束时间", "Finished"},
	"jobs.workers":                 {"执行进程", "Run by"},
	"jobs.error":                   {"最近错误", "Last error"},
	"jobs.note":                    {"仅平台运维人员可见；显示最近 200 个任务，每 5 秒刷新一次。时间为 UTC。", "Platform operators only; the newest 200 jobs, refreshed every 5 seconds. Times are UTC."},
	"w.job.score_history":          {"评分历史：全区评分", "score history: the region scored"},
	"w.job.webhook_delivery":       {"推送通知", "webhook delivery"},
	"w.job.training":               {"模型训练", "model training"},
	"w.job.sample_build":           {"样本构建", "sample build"},
	"w.job.warnings_eval":          {"风险预警评估", "warning evaluation"},
	"w.job.screening":              {"区域风险筛查", "region screening"},
	"w.job.materialize_plan":       {"特征物化：规划与担保网络", "materialization: plan and guarantee network"},
	"w.job.materialize_shard":      {"特征物化：分片计算", "materialization: shard"},
	"w.job.materialize_commit":     {"特征物化：提交快照", "materialization: commit"},
	"w.note.computing":             {"计算中", "computing"},
	"w.note.shards done, waiting":  {"等待各分片完成", "shards done, waiting"},
	"w.note.written":               {"已写入", "written"},
	"w.note.scoring":               {"评分中", "scoring"},
	"w.note.guarantee network":     {"担保网络", "guarantee network"},
	"w.available":                  {"排队中", "queued"},
	"w.scheduled":                  {"已计划", "scheduled"},
	"w.retryable":                  {"等待重试", "waiting to retry"},
	"w.completed":                  {"已完成", "completed"},
	"w.discarded":                  {"已放弃", "gave up"},
	"w.cancelled":                  {"已终止（不再重试）", "stopped (not retried)"},
	"flash.uploaded":               {"模型已上传并通过校验。", "The model was uploaded and validated."},
	"flash.requested":              {"晋升申请已提交，等待另一位审批人。", "Promotion requested; a second person must approve it."},
	"flash.approved":               {"已批准。", "Approved."},
	"flash.rejected":               {"已驳回。", "Rejected."},
	"flash.registered":             {"已登记：", "Registered:"},
	"error.code":                   {"错误代码", "HTTP"},
	"ind.companiesUnit":            {"家企业", "companies"},
	"psi.title":                    {"群体稳定性指数（PSI）", "Population stability index (PSI)"},
	"psi.watch":                    {"0.1 需关注", "0.1 watch"},
	"psi.shift":                    {"0.25 显著偏移", "0.25 significant shift"},
	"model.ksPos":                  {"坏样本（正例）", "positives (bad)"},
	"model.ksNeg":                  {"好样本（负例）", "negatives (good)"},
	"model.noSample":               {"上传的模型（非平台训练）", "uploaded (not trained on the platform)"},
	"model.noMetrics":              {"未经平台评估：没有平台留出样本，也没有银行提供的带标签评估文件。", "Not evaluated by the platform: no platform hold-out sample and no labelled evaluation file from the bank."},
	"model.change":                 {"变更", "Change"},
	"hist.model.create":            {"创建模型", "created the model"},
	"hist.model.update":            {"修改模型说明", "changed the model's description"},
	"hist.model.version.create":    {"登记版本 {v}", "registered version {v}"},
	"hist.model.version.delete":    {"删除版本 {v}", "deleted version {v}"},
	"hist.model.promotion.request": {"申请将 {v} 设为{alias}", "asked to make {v} the {alias}"},
	"hist.model.promotion.approve": {"批准将 {v} 设为{alias}", "approved {v} as the {alias}"},
	"hist.model.promotion.reject":  {"驳回将 {v} 设为{alias}的申请", "rejected {v} as the {alias}"},
	"hist.model.alias.move":        {"{alias}改为指向 {v}", "the {alias} now points to {v}"},
	"hist.other":                   {"其他变更", "another change"},
	"hist.refused":                 {"（未获授权，未执行）", " (refused: not authorized)"},
	"hist.failed":                  {"（未能完成）", " (could not be completed)"},
	"hist.reason":                  {"；意见：", "; reason: "},
	"agg.sum":                      {"按月合计", "sum over the months"},
	"agg.mean":                     {"月均值", "monthly mean"},
	"agg.count":                    {"记录条数", "count of records"},
	"agg.max":                      {"月度最大值", "monthly maximum"},
	"agg.last":                     {"最近值", "latest value"},
	"agg.slope":                    {"趋势斜率", "trend slope"},
	"agg.yoy":                      {"同比增长率", "year-on-year growth"},
	"agg.months_since":             {"距最近一次的月数", "months since the latest"},
	"agg.cv":                       {"变异系数", "coefficient of variation"},
	"agg.value":                    {"登记值", "registered value"},
	"agg.graph":                    {"担保网络计算", "guarantee network"},
}

var funcs = template.FuncMap{
	"pct": func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		// A share too small for one decimal is not zero: "<0.1%".
		if v > 0 && v < 0.0005 {
			return "<0.1%"
		}
		return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
	},
	"f3": func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	},
	"f4": func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	},
	"num":         groupDigits,
	"driftSwatch": driftSwatch,
	"count":       func(n int64) string { return groupDigits(float64(n)) },
	"float":       func(n int) float64 { return float64(n) },
	"f1":          func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"signed": func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		if v > 0 {
			return "+" + strconv.FormatFloat(v, 'f', 1, 64)
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	},
	"heat": riskBucket,
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"add": func(a, b int) int { return a + b },
	"sub": func(a, b int) int { return a - b },
	// pageQuery is the query of another page of a list: encoded here, so the
	// template must not escape it again (its = and & would become %3d and %26).
	"pageQuery": func(v url.Values, page int) template.URL {
		w := url.Values{}
		for k, vs := range v {
			w[k] = vs
		}
		w.Set("page", strconv.Itoa(page))
		return template.URL(w.Encode())
	},
	"ts": func(t time.Time) string { return tsFormat(t) },
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.DateOnly)
	},
	"join": strings.Join,
	// metric writes a model figure: counts (rows, positives) with separators,
	// other figures with 4 decimals.
	"metric": func(v float64) string {
		if v == math.Trunc(v) && math.Abs(v) >= 2 {
			return groupDigits(v)
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	},
	"upper":  strings.ToUpper,
	"printf": fmt.Sprintf,
	"colour": colourHex,
	"bar": func(v, ref float64) int { // width in percent of v against 2×ref, for a small inline bar
		if math.IsNaN(v) || math.IsNaN(ref) || ref <= 0 || v <= 0 {
			return 0
		}
		return int(math.Min(100, 50*v/ref))
	},
}

func tsFormat(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// groupDigits prints a number with thousands separators (at most 2 decimals).
func groupDigits(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', -1, 64)
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		s = strconv.FormatFloat(math.Round(math.Abs(v)), 'f', 0, 64)
	} else {
		s = strconv.FormatFloat(math.Abs(v), 'f', 2, 64)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func colourHex(c string) string {
	switch c {
	case "green":
		return "#2f855a"
	case "yellow":
		return "#d69e2e"
	case "orange":
		return "#dd6b20"
	case "red":
		return "#c53030"
	case "blue":
		return "#2b6cb0"
	}
	return "#a0aec0"
}

// riskBucket is the colour class of an index cell, 0 (green, index 0) to 9 (red,
// 45 and above): a class, since the console's content policy allows no inline
// styles.
func riskBucket(v float64) int {
	return int(math.Max(0, math.Min(9, math.Floor(v/5))))
}
