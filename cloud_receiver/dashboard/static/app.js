/* City supervision dashboard: a small hash-routed page set over the receiver's JSON API.
   The token is asked once and kept in sessionStorage (this tab only). Every figure shown
   carries data-k="name" so tests can read it; body[data-ready] is "1" once a page is drawn. */
"use strict";

const TOKEN_KEY = "rn-dashboard-token";
const STATUS = {"001": "筹备", "002": "立项", "003": "在建", "004": "完工", "005": "停工"};
const WARNING_NAMES = {
  no_safety_officer: "无在岗安全员", no_technical_lead: "无在岗技术负责人",
  on_duty_below_norm: "关键岗位到岗率低于标准", gateway_silent: "考勤设备离线超24小时", tamper_alert: "数据篡改告警",
  upstream_refused: "国家平台拒收数据",
  wage_payroll_missing: "工资单未报送(欠薪风险)", wage_payroll_short: "工资发放不足(欠薪风险)",
  wage_claim_without_attendance: "无考勤的工资申领", wage_service_quality: "劳务服务质量风险",
};
const ANOMALY_NAMES = {
  impossible_travel: "异地打卡(行程不可能)", multi_project_day: "同日多项目出勤", punch_burst: "集中代刷(短时大量打卡)",
  off_roster_punch: "非在册/已退场人员打卡", manual_share: "补卡比例过高", liveness_spike: "活体检测失败激增",
};
const POSTS = {project_manager: "项目经理", technical_lead: "技术负责人", safety_officer: "安全员",
               quality_lead: "质量负责人", chief_supervisor: "总监理工程师"};
const view = document.getElementById("view");
window.__errors = window.__errors || [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason && e.reason.message || e.reason)));

class AuthError extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, opts = {}) {
  const res = await fetch(path, {...opts, headers: {...(opts.headers || {}), Authorization: "Bearer " + token()}});
  if (res.status === 401) throw new AuthError("令牌无效或已撤销");
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${res.status} ${body.error || res.statusText}`);
  return body;
}

/* ---- small DOM helpers ------------------------------------------------------------------ */
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick" || k === "onchange" || k === "onsubmit") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
const pct = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");
const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN"));
const maskName = (n) => (n ? n[0] + "*".repeat(n.length - 1) : "—");
function card(label, value, key, warn) {
  return h("div", {class: "card" + (warn ? " warn" : "")}, h("div", {class: "label"}, label),
           h("div", {class: "value", "data-k": key}, value));
}
function table(head, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, head.map((c) => (c instanceof Node ? c : h("th", {}, c))))),
           h("tbody", {}, rows));
}
function panel(title, ...kids) { return h("div", {class: "panel"}, h("h3", {}, title), ...kids); }
function evidence(obj) {
  return h("details", {class: "evidence"}, h("summary", {}, "证据"), h("pre", {}, JSON.stringify(obj, null, 1)));
}
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}
function addDays(date, n) {
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function datePicker(date, onchange) {
  return h("label", {}, "数据日期 ", h("input", {type: "date", id: "date", value: date || "",
                                               onchange: (e) => onchange(e.target.value)}));
}

/* ---- routing ------------------------------------------------------------------------------ */
function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), q: new URLSearchParams(qs || "")};
}
function go(path, params) { location.hash = "#" + path + query(params || {}); }

async function render() {
  document.body.dataset.ready = "0";
  const {parts, q} = route();
  const page = parts[0] || "overview";
  document.body.dataset.page = page;
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === page));
  if (!token()) return showLogin();
  document.getElementById("login").hidden = true;
  document.getElementById("logout").hidden = false;
  view.replaceChildren(h("p", {class: "muted"}, "加载中…"));
  try {
    const pages = {overview, projects, project, worker, warnings, trends};
    const fn = pages[page];
    if (!fn) throw new Error("没有这个页面");
    await fn(parts.slice(1), q);
  } catch (err) {
    if (err instanceof AuthError) { sessionStorage.removeItem(TOKEN_KEY); return showLogin(err.message); }
    view.replaceChildren(h("p", {class: "error", "data-k": "error"}, "出错了:" + err.message));
  }
  document.body.dataset.ready = "1";
}

function showLogin(msg) {
  document.getElementById("login").hidden = false;
  document.getElementById("logout").hidden = true;
  document.getElementById("login-error").textContent = msg || "";
  view.replaceChildren();
  document.body.dataset.page = "login";
  document.body.dataset.ready = "1";
}

/* ---- pages -------------------------------------------------------------------------------- */
async function overview(_, q) {
  const date = q.get("date") || "";
  const ov = await api("/api/v1/dashboard/overview" + query({date}));
  if (!ov.date) { view.replaceChildren(h("p", {}, "尚无已计算的数据。")); return; }
  const [ds, tr] = await Promise.all([
    api("/api/v1/dashboard/districts" + query({date: ov.date})),
    api("/api/v1/dashboard/trends" + query({from: addDays(ov.date, -29), to: ov.date})),
  ]);
  const t = ov.totals;
  const openTotal = Object.values(ov.open_warnings).reduce((a, b) => a + b, 0);
  const findTotal = Object.values(ov.findings).reduce((a, b) => a + b, 0);
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, "全市总览"), datePicker(ov.date, (d) => go("/", {date: d})),
      h("span", {class: "muted"}, `已计算 ${ov.computed.first} 至 ${ov.computed.last}`)),
    h("div", {class: "cards"},
      card("项目数", num(t.projects), "projects"), card("今日在场人数", num(t.on_site), "on_site"),
      card("在册人数", num(t.roster), "roster"), card("出勤人数", num(t.present), "present"),
      card("出勤率(不含停工)", pct(t.rate), "rate"), card("未处理预警", num(openTotal), "open_warnings", openTotal > 0),
      card("当日异常考勤", num(findTotal), "findings", findTotal > 0)),
    h("p", {class: "muted", "data-k": "by_status"},
      "项目状态:" + Object.entries(t.by_status).map(([k, v]) => `${STATUS[k] || k} ${v}`).join(",")),
    h("div", {class: "grid"},
      panel("未处理预警(按类型)", table(["类型", h("th", {class: "num"}, "数量")], Object.entries(ov.open_warnings).map(
        ([k, v]) => h("tr", {}, h("td", {}, h("a", {href: "#/warnings" + query({rule: k})}, WARNING_NAMES[k] || k)),
                      h("td", {class: "num", "data-k": "warn-" + k}, v))))),
      panel("当日异常考勤(按规则)", table(["规则", h("th", {class: "num"}, "数量")], Object.entries(ov.findings).map(
        ([k, v]) => h("tr", {}, h("td", {}, h("a", {href: "#/warnings" + query({anomaly: k, from: ov.date, to: ov.date})},
                                               ANOMALY_NAMES[k] || k)),
                      h("td", {class: "num", "data-k": "find-" + k}, v)))))),
    panel("各区", table(["区", "项目", "在册", "出勤", "在场", "出勤率", "未处理预警"].map((c, i) => h("th", {class: i ? "num" : ""}, c)),
      ds.districts.map((d) => h("tr", {"data-district": d.district},
        h("td", {}, h("a", {href: "#/projects" + query({district: d.district, date: ov.date})}, d.district)),
        h("td", {class: "num"}, num(d.projects)), h("td", {class: "num"}, num(d.roster)),
        h("td", {class: "num"}, num(d.present)), h("td", {class: "num"}, num(d.on_site)),
        h("td", {class: "num"}, pct(d.rate)), h("td", {class: "num"}, num(d.open_warnings)))), {id: "districts"})),
    trendPanels(tr));
}

function trendPanels(tr) {
  const labels = tr.dates;
  return h("div", {class: "grid"},
    panel("出勤率趋势", Charts.line(labels, [{name: "出勤率", values: tr.attendance.map((a) => a.rate)}], {percent: true})),
    panel("在场人数趋势", Charts.line(labels, [
      {name: "在场", values: tr.attendance.map((a) => a.on_site)},
      {name: "在册", values: tr.attendance.map((a) => a.roster)}])),
    panel("预警趋势", Charts.line(labels, [
      {name: "未处理预警", values: tr.warnings_open}, {name: "新增预警", values: tr.warnings_opened}])),
    panel("异常考勤趋势", Charts.bars(labels, Object.entries(tr.findings).map(([k, v]) => ({name: ANOMALY_NAMES[k] || k, values: v})))));
}

async function projects(_, q) {
  const params = {date: q.get("date"), district: q.get("district"), q: q.get("q"), sort: q.get("sort") || "code",
                  desc: q.get("desc"), limit: 50, offset: Number(q.get("offset") || 0)};
  const res = await api("/api/v1/dashboard/projects" + query(params));
  const again = (over) => go("/projects", {...params, limit: null, ...over});
  const sortTh = (label, key) => h("th", {class: "sortable num", onclick: () => again({sort: key, desc: params.sort === key && params.desc !== "1" ? "1" : null, offset: 0})}, label);
  const search = h("input", {type: "search", id: "search", value: params.q || "", placeholder: "项目编号或名称"});
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, params.district ? `${params.district} · 项目` : "项目"),
      datePicker(res.date, (d) => again({date: d, offset: 0})),
      h("form", {onsubmit: (e) => { e.preventDefault(); again({q: search.value, offset: 0}); }}, search, h("button", {}, "查找")),
      h("span", {class: "muted", "data-k": "total"}, `共 ${res.total} 个`)),
    panel("项目列表", table([h("th", {}, "项目"), h("th", {}, "区"), h("th", {}, "状态"), sortTh("在册", "roster"),
      sortTh("出勤", "present"), sortTh("在场", "on_site"), sortTh("出勤率", "rate"), sortTh("未处理预警", "warnings"),
      h("th", {class: "num"}, "异常")],
      res.projects.map((p) => h("tr", {"data-project": p.project_code},
        h("td", {}, h("a", {href: "#/project/" + encodeURIComponent(p.project_code) + query({date: res.date})},
                       p.project_code), " ", p.name),
        h("td", {}, p.district), h("td", {}, h("span", {class: "tag" + (p.stopped ? " stopped" : "")}, STATUS[p.status] || p.status)),
        h("td", {class: "num"}, num(p.roster)), h("td", {class: "num"}, num(p.present)), h("td", {class: "num"}, num(p.on_site)),
        h("td", {class: "num"}, pct(p.rate)), h("td", {class: "num"}, num(p.open_warnings)), h("td", {class: "num"}, num(p.anomalies)))),
      {id: "projects"}),
      h("div", {class: "pager"},
        h("button", {type: "button", disabled: res.offset <= 0, onclick: () => again({offset: Math.max(0, res.offset - res.limit)})}, "上一页"),
        h("span", {}, `${res.total ? res.offset + 1 : 0}–${Math.min(res.total, res.offset + res.limit)} / ${res.total}`),
        h("button", {type: "button", id: "next", disabled: res.offset + res.limit >= res.total,
                     onclick: () => again({offset: res.offset + res.limit})}, "下一页"))));
}

async function project([code], q) {
  const ov = await api("/api/v1/dashboard/overview");
  const date = q.get("date") || ov.date;
  const enc = encodeURIComponent(code);
  const [p, att, duty, warns, finds, tr] = await Promise.all([
    api(`/api/v1/projects/${enc}`),
    api(`/api/v1/projects/${enc}/attendance` + query({date})),
    api(`/api/v1/projects/${enc}/on-duty` + query({month: date.slice(0, 7)})),
    api("/api/v1/warnings" + query({project: code, limit: 100})),
    api("/api/v1/dashboard/findings" + query({project: code, from: addDays(date, -29), to: date})),
    api("/api/v1/dashboard/trends" + query({project: code, from: addDays(date, -29), to: date})),
  ]);
  const t = att.totals;
  const live = warns.warnings.filter((w) => w.state !== "resolved");
  const wage = await wageRisk(addDays(date, -150), date, code);
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, `${p.project_code} ${p.name}`),
      datePicker(date, (d) => go("/project/" + enc, {date: d})),
      h("a", {href: "#/projects" + query({district: p.district, date})}, "返回 " + (p.district || "项目列表"))),
    h("p", {class: "muted"}, `${p.district || ""} · ${p.address || ""} · 总包:${p.general_contractor || "—"} · 监理:${p.supervisor || "—"} · 当前状态:`,
      h("span", {class: "tag", "data-k": "status"}, STATUS[p.status] || p.status)),
    h("div", {class: "cards"}, card("在册", num(t.roster), "roster"), card("出勤", num(t.present), "present"),
      card("出勤率", att.stopped ? "停工" : pct(t.rate), "rate"), card("补卡", num(t.manual_punches), "manual"),
      card("非在册打卡人数", num(t.off_roster_punching), "off_roster", t.off_roster_punching > 0),
      card("未处理预警", num(live.length), "open_warnings", live.length > 0),
      card("近30日异常考勤", num(finds.total), "findings", finds.total > 0)),
    h("div", {class: "grid"},
      panel(`关键岗位到岗率(${duty.month},截至 ${duty.as_of || "—"})`, table(["岗位", "人数", "应到天数", "实到天数", "到岗率"],
        duty.posts.map((x) => h("tr", {"data-post": x.key_post}, h("td", {}, POSTS[x.key_post] || x.name), h("td", {}, x.people),
          h("td", {}, x.working_days), h("td", {}, x.present_days), h("td", {"data-k": "duty-" + x.key_post}, pct(x.rate)))))),
      panel("分包单位 / 班组", table(["单位", "班组", "在册", "出勤", "出勤率"], att.teams.map((x) =>
        h("tr", {}, h("td", {}, x.company_code || "—"), h("td", {}, x.team_code || "—"), h("td", {}, x.roster),
          h("td", {}, x.present), h("td", {}, pct(x.rate))))))),
    panel("预警", warningTable(warns.warnings)),
    panel("异常考勤(近30日)", findingTable(finds.findings)),
    trendPanels(tr), h("h3", {}, "工资风险(近6个月)"), wage,
    panel(`工人(${date})`, table(["工号", "姓名", "单位", "班组", "岗位", "首次", "末次", "时长(时)", "出勤", "原因"],
      att.workers.map((w) => h("tr", {"data-worker": w.worker_ref},
        h("td", {}, h("a", {href: `#/worker/${enc}/${encodeURIComponent(w.worker_ref)}` + query({date})}, w.worker_ref)),
        h("td", {}, w.on_roster ? maskName(w.name) : "非在册"), h("td", {}, w.company_code || "—"), h("td", {}, w.team_code || "—"),
        h("td", {}, w.post || ""), h("td", {}, w.first ? w.first.slice(11, 16) : "—"), h("td", {}, w.last ? w.last.slice(11, 16) : "—"),
        h("td", {}, w.present ? w.span_hours.toFixed(1) : "—"), h("td", {}, w.present ? "是" : "否"),
        h("td", {class: "muted"}, (w.reasons || []).join(",")))), {id: "workers"})));
}

function warningTable(rows) {
  return table(["编号", "类型", "对象", "状态", "首次发现", "最近确认", "证据"], rows.map((w) => h("tr", {"data-warning": w.rule},
    h("td", {}, w.warning_id), h("td", {}, WARNING_NAMES[w.rule] || w.rule), h("td", {}, w.subject),
    h("td", {}, h("span", {class: "tag " + w.state}, {open: "未处理", acknowledged: "已确认", resolved: "已解决"}[w.state] || w.state)),
    h("td", {}, (w.first_seen || "").slice(0, 16).replace("T", " ")), h("td", {}, (w.last_seen || "").slice(0, 16).replace("T", " ")),
    h("td", {}, evidence(w.evidence)))), {class: "warnings"});
}

function findingTable(rows) {
  return table(["日期", "规则", "项目", "工人", "设备", "摘要", "证据"], rows.map((f) => h("tr", {"data-finding": f.rule},
    h("td", {}, f.day), h("td", {}, ANOMALY_NAMES[f.rule] || f.rule),
    h("td", {}, (f.projects || [f.project_code]).map((c, i) => [i ? "、" : "", h("a", {href: "#/project/" + encodeURIComponent(c)}, c)])),
    h("td", {}, f.worker_ref ? h("a", {href: `#/worker/${encodeURIComponent(f.project_code)}/${encodeURIComponent(f.worker_ref)}` + query({date: f.day})}, f.worker_ref) : "—"),
    h("td", {}, f.gateway_id || "—"), h("td", {}, summary(f)),
    h("td", {}, evidence(f.evidence)))), {class: "findings"});
}

function summary(f) {
  switch (f.rule) {
    case "impossible_travel": return `${f.distance_km} 公里 / ${f.minutes_between} 分钟`;
    case "multi_project_day": return Object.entries(f.punches || {}).map(([k, v]) => `${k}:${v}次`).join(",");
    case "punch_burst": return `${f.punches} 次 / ${f.seconds} 秒,${(f.start || "").slice(11, 16)}`;
    case "off_roster_punch": return f.reason === "exited" ? "已退场人员" : "非在册人员";
    case "manual_share": return `${f.scope === "team" ? "班组 " + f.team_code : "项目"} 补卡 ${f.manual_punches}/${f.punches}`;
    case "liveness_spike": return `${(f.hour_start || "").slice(11, 16)} 起一小时失败 ${f.failures} 次`;
    default: return "";
  }
}

async function worker([code, ref], q) {
  const ov = await api("/api/v1/dashboard/overview");
  const date = q.get("date") || ov.date;
  const w = await api(`/api/v1/dashboard/workers/${encodeURIComponent(code)}/${encodeURIComponent(ref)}` +
                      query({from: addDays(date, -29), to: date}));
  const p = w.person || {};
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, `工人 ${w.worker_ref}`),
      h("a", {href: "#/project/" + encodeURIComponent(code) + query({date})}, "返回项目 " + code)),
    h("div", {class: "cards"}, card("姓名", p.name || "非在册", "name"), card("身份证号(脱敏)", p.id_number || "—", "id_number"),
      card("单位/班组", `${p.company_code || "—"} / ${p.team_code || "—"}`, "team"),
      card("近30日出勤天数", num(w.days_present), "days_present"), card("工时(时)", num(w.hours), "hours"),
      card("异常考勤", num(w.findings.length), "findings", w.findings.length > 0)),
    h("p", {class: "muted"}, `进场 ${p.entry_date || "—"},退场 ${p.exit_date || "—"},岗位 ${p.post || "—"}`),
    panel("出勤日历", h("div", {class: "days"}, w.days.map((d) => h("span", {class: d.present ? "p" : d.punches ? "a" : "", title: d.date})))),
    panel("每日", table(["日期", "出勤", "首次", "末次", "时长", "打卡", "补卡", "原因"], w.days.slice().reverse().map((d) => h("tr", {},
      h("td", {}, d.date), h("td", {}, d.present ? "是" : "否"), h("td", {}, d.first ? d.first.slice(11, 16) : "—"),
      h("td", {}, d.last ? d.last.slice(11, 16) : "—"), h("td", {}, d.span_hours.toFixed(1)), h("td", {}, d.punches),
      h("td", {}, d.manual), h("td", {class: "muted"}, d.reasons.join(",")))), {id: "days"})),
    panel("异常考勤", findingTable(w.findings)),
    panel(`通行记录(最近 ${w.entries.length} / ${w.entries_total})`, table(["时间(UTC)", "类型", "方向", "闸机", "比对分", "活体分", "抓拍", "拒绝原因", "补卡原因"],
      w.entries.slice().reverse().slice(0, 100).map((e) => h("tr", {}, h("td", {}, e.device_time.slice(0, 19).replace("T", " ")),
        h("td", {}, e.type === "punch" ? (e.kind === "manual" ? "补卡" : "刷脸") : "拒绝"), h("td", {}, e.direction === "in" ? "进" : "出"),
        h("td", {}, e.gate_id), h("td", {}, e.match_score ?? "—"), h("td", {}, e.liveness_score ?? "—"),
        h("td", {}, e.snapshot_ref || "—"), h("td", {}, e.reject_reason || ""), h("td", {}, e.manual_reason || ""))))));
}

async function warnings(_, q) {
  const ov = await api("/api/v1/dashboard/overview");
  const to = q.get("to") || ov.date, from = q.get("from") || addDays(to, -29);
  const rule = q.get("rule"), state = q.get("state") || "", anomaly = q.get("anomaly");
  const [ws, fs] = await Promise.all([
    api("/api/v1/warnings" + query({rule, state, limit: 200})),
    api("/api/v1/dashboard/findings" + query({from, to, rule: anomaly, limit: 200})),
  ]);
  const sel = (id, value, options, onchange) => h("select", {id, onchange: (e) => onchange(e.target.value)},
    options.map(([v, label]) => h("option", {value: v, selected: v === (value || "")}, label)));
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, "预警与异常考勤"),
      sel("rule", rule, [["", "全部预警类型"], ...Object.entries(WARNING_NAMES)], (v) => go("/warnings", {rule: v, state, anomaly, from, to})),
      sel("state", state, [["", "全部状态"], ["open", "未处理"], ["acknowledged", "已确认"], ["resolved", "已解决"]],
          (v) => go("/warnings", {rule, state: v, anomaly, from, to}))),
    panel(`预警(${ws.warnings.length})`, warningTable(ws.warnings)),
    h("div", {class: "toolbar"},
      sel("anomaly", anomaly, [["", "全部异常规则"], ...Object.entries(ANOMALY_NAMES)], (v) => go("/warnings", {rule, state, anomaly: v, from, to})),
      h("span", {class: "muted"}, `${from} 至 ${to}`)),
    panel(`异常考勤(${fs.total})`, findingTable(fs.findings)));
}

async function trends(_, q) {
  const ov = await api("/api/v1/dashboard/overview");
  const to = q.get("to") || ov.date, from = q.get("from") || addDays(to, -59);
  const tr = await api("/api/v1/dashboard/trends" + query({from, to}));
  const wage = await wageRisk(from, to);
  view.replaceChildren(
    h("div", {class: "toolbar"}, h("h2", {}, "趋势"),
      h("label", {}, "从 ", h("input", {type: "date", id: "from", value: from, onchange: (e) => go("/trends", {from: e.target.value, to})})),
      h("label", {}, "至 ", h("input", {type: "date", id: "to", value: to, onchange: (e) => go("/trends", {from, to: e.target.value})}))),
    trendPanels(tr), h("h3", {}, "工资风险"), wage);
}

/* Wage risk (issue 6): the three modules' monthly trends from /api/v1/wage-risk/trend. */
const WAGE_MODULES = [
  ["arrears", "欠薪风险趋势", [["not_submitted", "未报送工资单项目"], ["short_count", "发放不足人次"]]],
  ["claims", "无考勤工资申领趋势", [["claim_count", "申领笔数"], ["claim_days", "申领天数"]]],
  ["service", "劳务服务质量风险趋势", [["disputes", "纠纷"], ["unsettled_exits", "退场未结清"]]],
];
async function wageRisk(from, to, project) {
  const months = [from.slice(0, 7), to.slice(0, 7)];
  const all = await Promise.all(WAGE_MODULES.map(([m]) =>
    api("/api/v1/wage-risk/trend" + query({module: m, from: months[0], to: months[1], project}))));
  return h("div", {class: "grid", id: "wage"}, WAGE_MODULES.map(([m, title, keys], i) => {
    const s = all[i].series;
    return panel(title, Charts.line(s.map((x) => x.month + "-01"),
      keys.map(([k, name]) => ({name, values: s.map((x) => (x.projects ? x[k] ?? 0 : null))}))));
  }));
}

/* ---- start -------------------------------------------------------------------------------- */
document.getElementById("login-form").onsubmit = (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  document.getElementById("token").value = "";
  render();
};
document.getElementById("logout").onclick = () => { sessionStorage.removeItem(TOKEN_KEY); render(); };
window.addEventListener("hashchange", render);
render();
